/**
 * The TLS part of the typed config tree (types.ts re-exports it): certificates and keys as read
 * at load, ssl_* of a server, session caches, ticket keys and proxy_ssl_* of upstream TLS.
 */
import type { Loc } from '../errors.js';
import type { Template } from './types.js';

// ---------------------------------------------------------------------------------------------
// TLS (ssl_* and proxy_ssl_* directives)

export type TlsProtocol = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/**
 * A PEM file named by a directive. `pem` is the file's content, read by src/config/tls-files.ts
 * when the config is loaded (so a changed file changes the hash and reloads, -t fails on a bad
 * file, and workers get exactly what the primary checked); '' until then.
 */
export interface PemFile {
  /** Absolute path. */
  readonly file: string;
  readonly pem: string;
  readonly loc: Loc;
}

/** One `ssl_certificate` + its `ssl_certificate_key` (paired by position, as nginx). */
export interface CertificateConfig {
  readonly cert: PemFile;
  readonly key: PemFile;
  /** The `ssl_password_file` line that decrypts the key, null when the key is not encrypted. */
  readonly passphrase: string | null;
}

/** TLS termination settings of a server (http or stream), inherited from the http/stream level. */
export interface SslConfig {
  /** Empty when the server has no certificate (then it cannot be on an `ssl` listen). */
  readonly certificates: readonly CertificateConfig[];
  readonly protocols: readonly TlsProtocol[];
  /** OpenSSL cipher list (TLSv1.2 and below; TLSv1.3 suites are OpenSSL's defaults). */
  readonly ciphers: string;
  readonly preferServerCiphers: boolean;
  readonly sessionTimeoutMs: number;
  readonly sessionTickets: boolean;
  /** `ssl_ecdh_curve` ('auto' = OpenSSL's default list). */
  readonly ecdhCurve: string;
  readonly dhparam: PemFile | null;
  readonly verifyClient: 'off' | 'on' | 'optional' | 'optional_no_ca';
  readonly verifyDepth: number;
  /** CAs that client certificates are verified against (and whose names are sent to clients). */
  readonly clientCertificate: PemFile | null;
  /** More CAs for verification, not sent to clients. */
  readonly trustedCertificate: PemFile | null;
  /** `ssl_password_file`: passphrases tried on encrypted keys (the one that works lands in CertificateConfig). */
  readonly passwordFile: PemFile | null;
  readonly sessionCache: SslSessionCache;
  /** `ssl_session_ticket_key` files in order (the first encrypts, all decrypt); empty: keys of our own. */
  readonly sessionTicketKeys: readonly TicketKeyFile[];
  /** `ssl_reject_handshake on`: a handshake whose SNI selects this server is refused. */
  readonly rejectHandshake: boolean;
}

/** `ssl_session_cache`: nginx's `off` / `none` / `builtin[:size]` and `shared:name:size`. */
export interface SslSessionCache {
  /** 'off' / 'none' as written; a number: a cache of this process of that many sessions; null: only `shared`. */
  readonly builtin: 'off' | 'none' | number | null;
  /** A cache every worker process shares, kept across reloads while its name is used. */
  readonly shared: { readonly name: string; readonly sizeBytes: number } | null;
}

/** An `ssl_session_ticket_key` file: `key` is filled with its bytes (base64) when the config loads. */
export interface TicketKeyFile {
  readonly file: string;
  /** Base64 of the file's 48 or 80 bytes (empty until tls-files.ts reads it). */
  readonly key: string;
  readonly loc: Loc;
}

/** `proxy_ssl_*`: TLS towards `proxy_pass https://` upstreams. */
export interface ProxySslConfig {
  /** Send SNI (`proxy_ssl_server_name`, default off as nginx). */
  readonly serverName: boolean;
  /** The name sent as SNI and verified (`proxy_ssl_name`, default `$proxy_host`). */
  readonly name: Template;
  readonly verify: boolean;
  readonly verifyDepth: number;
  readonly trustedCertificate: PemFile | null;
  /**
   * Client certificate presented to the upstream. `cert` and `key` are inherited separately (either
   * may be set at another level); a certificate without a key is an error only where it is used.
   */
  readonly certificate: { readonly cert: PemFile | null; readonly key: PemFile | null; readonly passphrase: string | null };
  readonly protocols: readonly TlsProtocol[];
  readonly ciphers: string;
  readonly sessionReuse: boolean;
  readonly passwordFile: PemFile | null;
}
