/**
 * What a terminated TLS connection tells the $ssl_* variables, read once after the handshake
 * (protocol, cipher, SNI, ALPN, verification); client certificate fields are read on first use.
 * Values are written as nginx writes them (checked against nginx 1.22 with OpenSSL 3).
 */
import type tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { chainVerdict } from './chain.js';
import { cipherList, groupList, groupName } from './names.js';
import { sessionFields } from './session-der.js';

/** What the ClientHello offered, kept per TLS socket for $ssl_ciphers / $ssl_curves (copies). */
const offers = new WeakMap<object, { readonly ciphers: Buffer; readonly groups: Buffer }>();

/** accept.ts: remember the client's cipher and group lists of this connection. */
export function noteClientOffer(socket: object, ciphers: Buffer, groups: Buffer): void {
  offers.set(socket, { ciphers: Buffer.from(ciphers), groups: Buffer.from(groups) });
}

const DAY_MS = 86_400_000;

/** OpenSSL's X509_verify_cert_error_string (3.x) for the codes Node reports, as nginx logs them. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_CRL: 'unable to get certificate CRL',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "unable to decrypt certificate's signature",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'unable to decode issuer public key',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_HAS_EXPIRED: 'certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'invalid CA certificate',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
};

/** Verification failures `ssl_verify_client optional_no_ca` tolerates (nginx ngx_ssl_verify_error_optional). */
const CA_ERRORS: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

export function verifyErrorText(code: string): string {
  return VERIFY_ERRORS[code] ?? code.toLowerCase().replace(/_/g, ' ');
}

export type VerifyMode = 'off' | 'on' | 'optional' | 'optional_no_ca';

/** Why a request on this connection must be refused under `mode`, else null (nginx 495 / 496). */
export type VerifyRefusal = 'cert' | 'nocert' | null;

/** RFC 2253 text of Node's "C=US\nO=Org\nCN=client" (reversed, comma-separated), as nginx's $ssl_client_s_dn. */
/**
 * X509_NAME_oneline's "/C=US/O=Org/CN=client": in certificate order, nothing escaped but bytes
 * outside printable ASCII (\xHH). Node's lines carry RFC 2253 escapes (`\,`), which it has not.
 */
function legacyDn(dn: string): string {
  let out = '';
  for (const p of dn.split('\n')) {
    if (p === '') continue;
    out += `/${p.replace(/\\(.)/g, '$1')}`;
  }
  return /[^\x20-\x7e]/.test(out) ? out.replace(/[^\x20-\x7e]+/g, (m) => [...Buffer.from(m, 'utf8')].map((b) => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')) : out;
}

function rfc2253(dn: string): string {
  // Node's lines are already escaped as RFC 2253 wants ("O=Client\, Inc."): only reverse and join.
  return dn.split('\n').filter((p) => p !== '').reverse().join(',');
}

export class TlsInfo {
  readonly protocol: string;
  readonly cipher: string;
  /** SNI the client sent, '' without one. */
  readonly serverName: string;
  readonly alpn: string;
  readonly sessionReused: boolean;
  /** A client certificate was presented. */
  readonly hasClientCert: boolean;
  /** Node's code for a failed verification (only when a certificate was presented), else null. */
  readonly verifyError: string | null;
  readonly #socket: tls.TLSSocket;
  #cert: X509Certificate | null | undefined;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    this.protocol = socket.getProtocol() ?? '';
    this.cipher = socket.getCipher()?.name ?? '';
    const sni = (socket as { servername?: string | false }).servername;
    this.serverName = typeof sni === 'string' ? sni : '';
    this.alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '';
    this.sessionReused = socket.isSessionReused();
    this.#cert = socket.getPeerX509Certificate() ?? null;
    this.hasClientCert = this.#cert !== null;
    // chain.ts's verdict (ssl_verify_depth, ssl_trusted_certificate) where it differs from Node's.
    const judged = chainVerdict(socket);
    this.verifyError = !this.hasClientCert ? null
      : judged !== undefined ? judged
      : socket.authorized ? null : String(socket.authorizationError ?? 'CERT_REJECTED');
  }

  /** $ssl_client_verify: SUCCESS, FAILED:reason or NONE. */
  get clientVerify(): string {
    if (!this.hasClientCert) return 'NONE';
    return this.verifyError === null ? 'SUCCESS' : `FAILED:${verifyErrorText(this.verifyError)}`;
  }

  /** nginx ngx_http_process_request: which 400 a request gets under the chosen server's mode. */
  refusal(mode: VerifyMode): VerifyRefusal {
    if (mode === 'off') return null;
    if (this.verifyError !== null && !(mode === 'optional_no_ca' && CA_ERRORS.has(this.verifyError))) return 'cert';
    if (mode === 'on' && !this.hasClientCert) return 'nocert';
    return null;
  }

  get clientSDn(): string {
    return this.#cert ? rfc2253(this.#cert.subject) : '';
  }

  get clientIDn(): string {
    return this.#cert ? rfc2253(this.#cert.issuer) : '';
  }

  get clientSerial(): string {
    return this.#cert?.serialNumber.toUpperCase() ?? '';
  }

  /** SHA1, lowercase hex without colons (nginx). */
  get clientFingerprint(): string {
    return this.#cert ? this.#cert.fingerprint.replace(/:/g, '').toLowerCase() : '';
  }

  /** Lowercase hex, '' when the session has none (a TLS 1.2 ticket's first handshake). Read when asked: TLS 1.3 sets it with the tickets. */
  get sessionId(): string {
    return sessionFields(this.#socket.getSession()).id.toString('hex');
  }

  get curve(): string {
    const g = sessionFields(this.#socket.getSession()).kexGroup;
    return g === 0 ? '' : groupName(g);
  }

  get ciphers(): string {
    const o = offers.get(this.#socket);
    return o === undefined ? '' : cipherList(o.ciphers);
  }

  get curves(): string {
    const o = offers.get(this.#socket);
    return o === undefined ? '' : groupList(o.groups);
  }

  /** The PEM as is ($ssl_client_raw_cert). */
  get clientRawCert(): string {
    return this.#cert ? this.#cert.toString() : '';
  }

  /** The PEM with a tab before every line but the first, no final newline (nginx, for a header value). */
  get clientCert(): string {
    return this.#cert ? this.#cert.toString().trimEnd().replace(/\n/g, '\n\t') : '';
  }

  /** X509_NAME_oneline: "/C=US/O=Org/CN=client", in the certificate's order. */
  get clientSDnLegacy(): string {
    return this.#cert ? legacyDn(this.#cert.subject) : '';
  }

  get clientIDnLegacy(): string {
    return this.#cert ? legacyDn(this.#cert.issuer) : '';
  }

  /** "Dec  6 14:43:47 2026 GMT" (ASN1_TIME_print), as Node gives it. */
  get clientVStart(): string {
    return this.#cert?.validFrom ?? '';
  }

  get clientVEnd(): string {
    return this.#cert?.validTo ?? '';
  }

  /** Whole days left (0 once expired), as nginx counts them. */
  get clientVRemain(): string {
    if (!this.#cert) return '';
    return String(Math.max(0, Math.floor((Date.parse(this.#cert.validTo) - Date.now()) / DAY_MS)));
  }

  /** The TLS socket (for ALPN hand-off and tests). */
  get socket(): tls.TLSSocket {
    return this.#socket;
  }
}

const infos = new WeakMap<object, TlsInfo>();

/**
 * The TlsInfo of a connection's socket, made once per socket: a TLS socket gets one, anything
 * else null (HTTP/2 streams ask with their session's socket).
 */
export function tlsInfoOf(socket: object): TlsInfo | null {
  let info = infos.get(socket);
  if (info === undefined) {
    if ((socket as { encrypted?: boolean }).encrypted !== true) return null;
    info = new TlsInfo(socket as tls.TLSSocket);
    infos.set(socket, info);
  }
  return info;
}

/** Getters for $ssl_* names shared by the http and stream variable tables ('' without TLS). */
export const SSL_VARIABLES: Readonly<Record<string, (t: TlsInfo | null) => string>> = {
  ssl_protocol: (t) => t?.protocol ?? '',
  ssl_cipher: (t) => t?.cipher ?? '',
  ssl_server_name: (t) => t?.serverName ?? '',
  ssl_client_verify: (t) => (t === null ? '' : t.clientVerify),
  ssl_client_s_dn: (t) => t?.clientSDn ?? '',
  ssl_client_i_dn: (t) => t?.clientIDn ?? '',
  ssl_client_serial: (t) => t?.clientSerial ?? '',
  ssl_client_fingerprint: (t) => t?.clientFingerprint ?? '',
  ssl_session_reused: (t) => (t === null ? '' : t.sessionReused ? 'r' : '.'),
  ssl_alpn_protocol: (t) => t?.alpn ?? '',
  ssl_session_id: (t) => t?.sessionId ?? '',
  ssl_ciphers: (t) => t?.ciphers ?? '',
  ssl_curve: (t) => t?.curve ?? '',
  ssl_curves: (t) => t?.curves ?? '',
  ssl_client_cert: (t) => t?.clientCert ?? '',
  ssl_client_raw_cert: (t) => t?.clientRawCert ?? '',
  // nginx escapes the PEM as a URI component: the same bytes as encodeURIComponent for PEM text
  // (checked with nginx 1.22: "-----BEGIN%20CERTIFICATE-----%0AMIID...%2B...").
  ssl_client_escaped_cert: (t) => (t === null ? '' : encodeURIComponent(t.clientRawCert)),
  ssl_client_s_dn_legacy: (t) => t?.clientSDnLegacy ?? '',
  ssl_client_i_dn_legacy: (t) => t?.clientIDnLegacy ?? '',
  ssl_client_v_start: (t) => t?.clientVStart ?? '',
  ssl_client_v_end: (t) => t?.clientVEnd ?? '',
  ssl_client_v_remain: (t) => t?.clientVRemain ?? '',
};
