/**
 * TypeScript definitions of the scripting API tsproxy implements (njs's names, as npm's
 * `njs-types` declares them, so a handler typed against either type-checks against both):
 * the HTTP request object `r` (NginxHTTPRequest) and the globals `ngx` and `njs`.
 *
 *   /// <reference types="tsproxy/types" />
 *   export default { hello(r: NginxHTTPRequest) { r.return(200, `hello ${r.uri}`); } };
 *
 * Not there yet (a later increment): ngx.fetch, ngx.shared, r.subrequest.
 */

type NjsStringLike = string | Buffer;

interface NginxHTTPArgs {
  readonly [prop: string]: string | string[] | undefined;
}

interface NginxHeadersIn {
  readonly [prop: string]: string | undefined;
}

interface NginxHeadersOut {
  [prop: string]: string | string[] | undefined;
}

interface NginxVariables {
  [prop: string]: string | undefined;
}

interface NginxHTTPRequest {
  /** The request's arguments, decoded (a repeated name gives an array). */
  readonly args: NginxHTTPArgs;
  /** Request headers by name (any case); undefined when absent. */
  readonly headersIn: NginxHeadersIn;
  /** Response headers, writable until the answer goes out. */
  readonly headersOut: NginxHeadersOut;
  readonly httpVersion: string;
  readonly method: string;
  readonly remoteAddress: string;
  readonly requestLine: string;
  /** The request body (js_content reads it before the handler runs); undefined without one. */
  readonly requestText?: string;
  readonly requestBuffer?: Buffer;
  /** The response status (r.finish sends it; 200 when unset). */
  status: number;
  readonly uri: string;
  /** nginx variables; js_var and `set` variables are writable. */
  readonly variables: NginxVariables;
  readonly parent?: NginxHTTPRequest;
  /** Answer: a redirect (301, 302, 303, 307, 308 with a URL), a text body, or the status's built-in page. */
  return(status: number, body?: NjsStringLike): void;
  sendHeader(): void;
  send(part: NjsStringLike): void;
  finish(): void;
  /** Continue at another URI (or `@named` location) once the handler returns. */
  internalRedirect(uri: NjsStringLike): void;
  log(message: NjsStringLike): void;
  warn(message: NjsStringLike): void;
  error(message: NjsStringLike): void;
}

interface NgxObject {
  readonly INFO: number;
  readonly WARN: number;
  readonly ERR: number;
  /** The main config file's directory, with a trailing slash. */
  readonly conf_prefix: string;
  /** The worker process's index, from 0. */
  readonly worker_id: number;
  log(level: number, message: NjsStringLike): void;
}

interface NjsGlobal {
  /** The njs API level implemented. */
  readonly version: string;
}

declare const ngx: NgxObject;
declare const njs: NjsGlobal;
