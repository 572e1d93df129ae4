/**
 * What a terminated TLS connection tells the $ssl_* variables, read once after the handshake
 * (protocol, cipher, SNI, ALPN, verification); client certificate fields are read on first use.
 * Values are written as nginx writes them (checked against nginx 1.22 with OpenSSL 3).
 */
import type tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { chainVerdict } from './chain.js';

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
function rfc2253(dn: string): string {
  return dn.split('\n').filter((p) => p !== '').reverse().map((p) => p.replace(/([,+;<>"])/g, '\\$1')).join(',');
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
};
