/**
 * nginx's built-in error page and status reason phrases: text only, shared by the HTTP engine
 * (http/respond.ts) and stream's `websocket_pass` answers (tcp/stream-site.ts).
 */
import { SERVER_NAME, STATUS_TEXT } from '../constants.js';

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? (status < 400 ? 'OK' : status < 500 ? 'Bad Request' : 'Internal Server Error');
}

const errorPages = new Map<number, string>();

/** Where nginx's page title differs from the status line's reason phrase. */
const PAGE_TITLES: Readonly<Record<number, string>> = { 302: 'Found', 401: 'Authorization Required' };

/** nginx's built-in page for an error status (the same markup, tsproxy's name in the footer). */
export function errorPage(status: number): string {
  let page = errorPages.get(status);
  if (page === undefined) {
    const title = `${status} ${PAGE_TITLES[status] ?? statusText(status)}`;
    page =
      `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n` +
      `<hr><center>${SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n`;
    errorPages.set(status, page);
  }
  return page;
}
