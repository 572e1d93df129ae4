/**
 * The response-body filter part of the typed config (re-exported by types.ts): gzip / gzip_static
 * (directives/gzip.ts), sub_filter (directives/sub-filter.ts) and chunked_transfer_encoding.
 * Each group is absent from LocationSettings while no level of its chain sets one of its
 * directives, so configs without them keep their shape and hash.
 */

/** One `gzip_proxied` value (nginx's names). */
export type GzipProxied = 'off' | 'expired' | 'no-cache' | 'no-store' | 'private' | 'no_last_modified' | 'no_etag' | 'auth' | 'any';

/** A `gzip_disable` regex as JavaScript runs it (translated from PCRE, caseless as nginx compiles it). */
export interface GzipDisableRegex {
  readonly source: string;
  readonly flags: string;
}

export interface GzipSettings {
  /** `gzip on`: responses are compressed (gzip_vary and gzip_static work without it). */
  readonly enabled: boolean;
  readonly static: 'off' | 'on' | 'always';
  /** gzip_comp_level, 1-9. */
  readonly level: number;
  /** gzip_min_length: a response whose Content-Length is known and smaller is sent as it is. */
  readonly minLengthBytes: number;
  readonly vary: boolean;
  readonly proxied: readonly GzipProxied[];
  /** gzip_types, lowercase, text/html always among them; `*` alone: every type. */
  readonly types: readonly string[];
  /** gzip_disable: User-Agent regexes; `msie6` is nginx's special name. */
  readonly disable: readonly GzipDisableRegex[];
  readonly disableMsie6: boolean;
  readonly httpVersion: '1.0' | '1.1';
}

export interface SubFilterRule {
  /** The string searched for, as written (matched case-insensitively). */
  readonly match: string;
  /** The replacement, a template. */
  readonly replacement: string;
}

export interface SubFilterSettings {
  readonly rules: readonly SubFilterRule[];
  /** sub_filter_once: each string is replaced at its first match only. */
  readonly once: boolean;
  /** sub_filter_types, lowercase, text/html always among them; `*` alone: every type. */
  readonly types: readonly string[];
  /** sub_filter_last_modified: keep Last-Modified (and a weakened ETag). */
  readonly lastModified: boolean;
}
