/**
 * stub_status (ngx_http_stub_status_module): nginx's counters as its plain-text page. With worker
 * processes the counts are every worker's, summed by the primary (the site's `connectionCounts`
 * then answers later); a single process answers at once.
 */
import { renderStubStatus, type StatusCounts } from '../core/connection-stats.js';
import type { HttpRequest } from './request.js';
import { NO_FIELDS, type LocalResponse } from './respond.js';

function page(c: StatusCounts): LocalResponse {
  return { status: 200, contentType: 'text/plain', body: renderStubStatus(c), headers: NO_FIELDS };
}

/** The page now, or null when the counts come later (then `later(r, page)` answers). */
export function stubStatusResponse(r: HttpRequest, later: (r: HttpRequest, res: LocalResponse) => void): LocalResponse | null {
  const counts = r.site.connectionCounts((c) => later(r, page(c)));
  return counts === null ? null : page(counts);
}
