/**
 * `check_status`: the status document from the site's StatusSource (at once in a single process;
 * from the primary, which merges every worker's counters, with worker processes), rendered in the
 * format `?format=` or the directive asks for. Like stub_status, a later answer goes to `later`.
 */
import { renderStatus, statusFormatOf, type StatusFormat } from '../core/status/render.js';
import type { StatusDocument } from '../core/status/document.js';
import type { HttpRequest } from './request.js';
import { NO_FIELDS, type LocalResponse } from './respond.js';

function page(doc: StatusDocument, format: StatusFormat, status: number): LocalResponse {
  const { contentType, body } = renderStatus(doc, format);
  return { status, contentType, body, headers: NO_FIELDS };
}

/** The page now, or null when the document comes later (then `later(r, page)` answers). */
export function checkStatusResponse(
  r: HttpRequest,
  configured: StatusFormat,
  status: number,
  later: (r: HttpRequest, res: LocalResponse) => void,
): LocalResponse | null {
  const format = statusFormatOf(r.args, configured);
  let now: LocalResponse | null = null;
  let waiting = false;
  r.site.statusSource((doc) => {
    const res = page(doc, format, status);
    if (waiting) later(r, res);
    else now = res;
  });
  waiting = now === null;
  return now;
}
