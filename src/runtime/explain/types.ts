/**
 * The document `tsproxy --explain ... --explain-format json` prints (README "Explaining a
 * request"). Every field is always present; `null` means "does not apply". Places in the config
 * are "file:line". The text format prints the same document.
 */
export const EXPLAIN_SCHEMA = 'tsproxy-explain/1';

export interface Explanation {
  readonly schema: typeof EXPLAIN_SCHEMA;
  /**
   * http: an http {} server (or a tcp websocket_pass server, whose requests the HTTP engine
   * routes); stream: a tcp {} / stream {} server proxying bytes (SNI routes).
   */
  readonly context: 'http' | 'stream';
  /** The request as given on the command line. */
  readonly request: {
    readonly method: string;
    readonly scheme: 'http' | 'https';
    /** The Host header sent (the URL's authority unless -H Host: overrides it). */
    readonly host: string;
    readonly port: number;
    /** The request target as sent (path and query, not normalized). */
    readonly target: string;
    /** -H headers, as given. */
    readonly headers: readonly string[];
    /** The client address (--from, default 127.0.0.1). */
    readonly from: string;
    /** TLS SNI (--sni, default the URL's host for https); null for http. */
    readonly sni: string | null;
  };
  /** The listen socket the request arrives on. */
  readonly listen: { readonly key: string; readonly ssl: boolean; readonly at: string; readonly why: string };
  /** The virtual server the Host chose. */
  readonly server: {
    /** Its first server_name ('' when none), and where the block starts. */
    readonly name: string;
    readonly at: string;
    /** exact | wildcard | regex | default (no name matched: the listen's default server) | invalid (a Host nginx answers 400). */
    readonly how: 'exact' | 'wildcard' | 'regex' | 'default' | 'invalid';
    /** The server_name that matched (regexes as "~source"); '' for default. */
    readonly matchedName: string;
    /** Captures of a regex server_name ("1", "name", ...). */
    readonly captures: Readonly<Record<string, string>>;
    readonly why: string;
  };
  /** What the routing did, in order: location searches, rewrite-module steps, access, try_files. */
  readonly steps: readonly ExplainStep[];
  /** The location that answers (null: none matched, the server's own settings answer). */
  readonly location: { readonly name: string; readonly at: string; readonly why: string } | null;
  /** The handler that answers. */
  readonly content: ExplainContent;
  /** Variables the configuration uses in this server, evaluated when the handler was reached. */
  readonly variables: Readonly<Record<string, string>>;
  /** Error-log lines the routing wrote (e.g. "rewrite or internal redirection cycle"). */
  readonly log: readonly string[];
}

export type ExplainStep =
  /** One location search (the first, and again after each URI change): every candidate in nginx's order. */
  | {
      readonly kind: 'locations';
      readonly uri: string;
      readonly candidates: readonly { readonly name: string; readonly at: string; readonly matched: boolean; readonly note: string }[];
      /** The location this search chose (null: none). */
      readonly chosen: string | null;
    }
  /** rewrite / set / if / break / return as it ran; `phase`: server-level or location-level. */
  | { readonly kind: 'rewrite' | 'set' | 'if' | 'break' | 'return'; readonly at: string; readonly directive: string; readonly matched: boolean; readonly result: string }
  /** The access phase: `judged` false when it needs auth_request or js_access, which --explain does not run. */
  | { readonly kind: 'access'; readonly judged: boolean; readonly note: string }
  /** limit_req / limit_conn zones that would apply (not applied by --explain). */
  | { readonly kind: 'limits'; readonly note: string }
  /** try_files: each candidate and what was found on disk. */
  | { readonly kind: 'try_files'; readonly tested: readonly string[]; readonly found: string | null };

export type ExplainContent =
  | {
      readonly kind: 'proxy';
      /** The upstream group ("backend", or "127.0.0.1:9001" for an implicit one). */
      readonly group: string;
      /** round_robin, least_conn, ip_hash, hash, hash consistent, random, random two. */
      readonly method: string;
      /** Every peer: id, health from --status ("up", "down", ...) or "unknown". */
      readonly peers: readonly { readonly peer: string; readonly backup: boolean; readonly health: string }[];
      /** The peer a request would go to now, then the next ones on retry (proxy_next_upstream); empty when none is usable. */
      readonly order: readonly string[];
      /** The URL the upstream request goes to: scheme, proxy host, request target after the proxy_pass URI rule. */
      readonly url: string;
      /** The request target of the upstream request line. */
      readonly target: string;
      /** The upstream request head as it would be sent (header lines, in order). */
      readonly head: readonly string[];
      /** An evaluated `proxy_pass` with variables ("http://$backend$uri"), null for a fixed one. */
      readonly dynamic: string | null;
    }
  /** A tcp / stream server's proxy_pass: the bytes go to a peer as they come (TLS passthrough by SNI). */
  | {
      readonly kind: 'stream';
      readonly group: string;
      readonly method: string;
      readonly peers: readonly { readonly peer: string; readonly backup: boolean; readonly health: string }[];
      readonly order: readonly string[];
      /** An evaluated `proxy_pass $var` (e.g. a map of $ssl_preread_server_name), null for a fixed one. */
      readonly dynamic: string | null;
      /** `proxy_protocol on`: the PROXY header version sent first (0: none). */
      readonly proxyProtocol: number;
      /** `proxy_ssl on`: TLS to the peer. */
      readonly tls: boolean;
    }
  /** A local answer (return, redirect, static file, error page, refusal): status and header lines. */
  | { readonly kind: 'answer'; readonly status: number; readonly head: readonly string[]; readonly handler: string }
  /** The connection is closed without an answer (return 444, a denied client of a tcp server). */
  | { readonly kind: 'close' }
  /** A handler --explain does not run (fastcgi_pass, js_content): it is named only. */
  | { readonly kind: 'handler'; readonly handler: string; readonly note: string };
