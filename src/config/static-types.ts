/** The static-file part of the typed config (re-exported by types.ts). */

/** `expires`: null is `off`. */
export type ExpiresConfig =
  | { readonly kind: 'access'; readonly seconds: number }
  | { readonly kind: 'modified'; readonly seconds: number }
  | { readonly kind: 'epoch' }
  | { readonly kind: 'max' };

/**
 * default_type, types, etag, expires, if_modified_since, autoindex* and whether `root` is an
 * `alias` (the two share one slot, as in nginx).
 */
export interface FileSettings {
  readonly defaultType: string;
  /** File extension (lowercase) → MIME type; null: tsproxy's built-in table. */
  readonly types: Readonly<Record<string, string>> | null;
  readonly etag: boolean;
  readonly expires: ExpiresConfig | null;
  readonly ifModifiedSince: 'off' | 'exact' | 'before';
  readonly autoindex: boolean;
  readonly autoindexFormat: 'html' | 'json' | 'xml' | 'jsonp';
  readonly autoindexExactSize: boolean;
  readonly autoindexLocaltime: boolean;
  /** `root` is an `alias` path: the location's prefix is replaced, not prepended. */
  readonly alias: boolean;
  /** log_not_found: a 404 of a static file or index is logged (nginx's default). */
  readonly logNotFound: boolean;
}
