/**
 * TypeScript definitions of the scripting API tsproxy implements (njs's names, as npm's
 * `njs-types` declares them, so a handler typed against either type-checks against both):
 * the HTTP request object `r` (NginxHTTPRequest), the stream session object `s`
 * (NginxStreamRequest) and the globals `ngx` and `njs`.
 *
 *   /// <reference types="tsproxy/types" />
 *   export default { hello(r: NginxHTTPRequest) { r.return(200, `hello ${r.uri}`); } };
 *
 * The fetch API's Response and Headers are NgxResponse / NgxResponseHeaders here (njs-types
 * declares them as global classes `Response` / `Headers`, which would clash with Node's own).
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

interface NginxRawVariables {
  [prop: string]: Buffer | undefined;
}

/** r.subrequest's options (a string: the args). */
interface NginxSubrequestOptions {
  /** The arguments (the uri is taken as it is: a `?` in it is not split off). */
  args?: string;
  /** The request body (default: the parent's). */
  body?: NjsStringLike;
  /** The method (default GET). */
  method?: 'GET' | 'POST' | 'OPTIONS' | 'HEAD' | 'PROPFIND' | 'PUT' | 'MKCOL' | 'DELETE' | 'COPY' | 'MOVE' | 'PROPPATCH' | 'LOCK' | 'PATCH' | 'TRACE' | string;
  /** Run it for nobody: the call returns undefined. */
  detached?: boolean;
}

/** What a subrequest answered. */
interface NginxHTTPSubrequestReply {
  readonly status: number;
  readonly uri: string;
  readonly method: string;
  readonly args: NginxHTTPArgs;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly headersOut: NginxHeadersOut;
  readonly responseText: string;
  readonly responseBuffer: Buffer;
}

interface NginxHTTPSendBufferOptions {
  last?: boolean;
  flush?: boolean;
}

/** What a js_periodic function gets. */
interface NginxPeriodicSession {
  readonly variables: NginxVariables;
  readonly rawVariables: NginxRawVariables;
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
  /** The same as Buffers. */
  readonly rawVariables: NginxRawVariables;
  /** A subrequest's parent request. */
  readonly parent?: NginxHTTPRequest;
  /** Run another location of this server for this request: its reply, or undefined with a callback or `detached`. */
  subrequest(uri: NjsStringLike, options: NginxSubrequestOptions & { detached: true }): void;
  subrequest(uri: NjsStringLike, options?: NginxSubrequestOptions | string): Promise<NginxHTTPSubrequestReply>;
  subrequest(uri: NjsStringLike, options: NginxSubrequestOptions | string, callback: (reply: NginxHTTPSubrequestReply) => void): void;
  subrequest(uri: NjsStringLike, callback: (reply: NginxHTTPSubrequestReply) => void): void;
  /** js_body_filter: pass data on. */
  sendBuffer(data: NjsStringLike, options?: NginxHTTPSendBufferOptions): void;
  /** js_body_filter: the rest of the body passes as it is. */
  done(): void;
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

/** ngx.fetch's options. */
interface NgxFetchOptions {
  body?: NjsStringLike;
  headers?: Record<string, string> | [string, string][] | NgxResponseHeaders;
  method?: string;
  /** Check the HTTPS server's certificate (default: js_fetch_verify). */
  verify?: boolean;
  /** Overrides js_fetch_buffer_size. */
  buffer_size?: number;
  /** Overrides js_fetch_max_response_buffer_size. */
  max_response_body_size?: number;
}

/** njs's Headers of a fetch response. */
interface NgxResponseHeaders {
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
  forEach(fn: (value: string, name: string) => void): void;
}

/** njs's Response of ngx.fetch. */
interface NgxResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: NgxResponseHeaders;
  readonly url: string;
  readonly redirected: boolean;
  readonly type: string;
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json(): Promise<any>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** flags of a stream data handler: `last` marks the direction's end. */
interface NginxStreamCallbackFlags {
  last: boolean;
}

interface NginxStreamSendOptions {
  last?: boolean;
  flush?: boolean;
}

/** s.variables: any variable of stream {} (read); js_var ones may be written. */
interface NginxStreamVariables {
  [prop: string]: string | undefined;
}

/** `s`: the stream session js_access, js_preread, js_filter and js_set functions get. */
interface NginxStreamRequest {
  /** The client's address (after set_real_ip_from). */
  readonly remoteAddress: string;
  /** The session's status so far ($status). */
  readonly status: number;
  readonly variables: NginxStreamVariables;
  /** The phase passes (js_access / js_preread). */
  allow(): void;
  /** The phase passes (js_preread: the bytes read so far go on to the upstream). */
  done(): void;
  /** The phase gives no verdict: the next handler's turn. */
  decline(): void;
  /** The session closes (status 403). */
  deny(): void;
  /** Data of one direction: `upload` from the client, `download` (js_filter) from the upstream; data is a byte string. */
  on(event: 'upload' | 'download', callback: (data: string, flags: NginxStreamCallbackFlags) => void): void;
  off(event: 'upload' | 'download'): void;
  /** js_filter: pass data on in the direction of the running handler. */
  send(data: NjsStringLike, options?: NginxStreamSendOptions): void;
  sendUpstream(data: NjsStringLike, options?: NginxStreamSendOptions): void;
  sendDownstream(data: NjsStringLike, options?: NginxStreamSendOptions): void;
  log(message: NjsStringLike): void;
  warn(message: NjsStringLike): void;
  error(message: NjsStringLike): void;
}

type NgxSharedDictValue = string | number;
type NgxKeyValuePair<V> = [string, V];

/** A js_shared_dict_zone: one dict across worker processes. */
interface NgxSharedDict<V extends string | number = string | number> {
  readonly capacity: number;
  readonly name: string;
  readonly type: 'string' | 'number';
  add(key: string, value: V, timeout?: number): boolean;
  clear(): void;
  delete(key: string): boolean;
  /** type=number zones only. */
  incr(key: string, delta: number, init?: number, timeout?: number): number;
  items(maxCount?: number): NgxKeyValuePair<V>[];
  freeSpace(): number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  keys(maxCount?: number): string[];
  pop(key: string): V | undefined;
  replace(key: string, value: V): boolean;
  set(key: string, value: V, timeout?: number): this;
  size(): number;
}

interface NgxGlobalShared {
  readonly [zone: string]: NgxSharedDict;
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
  /** An HTTP/HTTPS request (js_fetch_* settings); redirects are not followed. */
  fetch(resource: NjsStringLike, options?: NgxFetchOptions): Promise<NgxResponse>;
  /** The js_shared_dict_zone dicts by name. */
  readonly shared: NgxGlobalShared;
}

interface NjsGlobal {
  /** The njs API level implemented. */
  readonly version: string;
}

declare const ngx: NgxObject;
declare const njs: NjsGlobal;
