/**
 * What OpenSSL would decide about a client certificate chain where Node cannot say it:
 * - ssl_verify_depth: OpenSSL allows `depth` intermediate CAs between the leaf and the trust
 *   anchor; nginx 1.22 then reports "unable to get local issuer certificate" (checked with
 *   ask-nginx: depth 0 refuses a leaf signed by an intermediate, depth 1 accepts it);
 * - ssl_trusted_certificate: nginx verifies against it without sending its CA names in the
 *   CertificateRequest. Node sends the name of every `ca` certificate, so only
 *   ssl_client_certificate goes into `ca`, and a chain Node could not complete is built again
 *   here against both lists (signatures, validity dates, CA flags).
 * The verdict is kept per TLS socket; TlsInfo (info.ts) reads it instead of Node's.
 */
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type { SslConfig } from '../config/types.js';

/** Node's code for the failure nginx reports when the chain is longer than ssl_verify_depth. */
const DEPTH_ERROR = 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
/** Node's verification failures that a chain completed by the trusted certificates may cure. */
const ISSUER_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
]);
/** Longest chain walked (OpenSSL's default verify depth is 100; real chains have 2-4 links). */
const MAX_CHAIN = 16;

/** The verification verdict for a socket when it differs from Node's: a code, or null for success. */
const verdicts = new WeakMap<object, string | null>();

export function chainVerdict(socket: object): string | null | undefined {
  return verdicts.get(socket);
}

/**
 * The number of intermediate CAs between the leaf and the self-issued anchor of a chain as Node
 * gives it (`getPeerCertificate(true)`: issuerCertificate links, the anchor pointing at itself).
 */
export function intermediateCount(cert: tls.PeerCertificate): number {
  let intermediates = 0;
  let prev = cert as tls.DetailedPeerCertificate;
  let c = prev.issuerCertificate as tls.DetailedPeerCertificate | undefined;
  while (c !== undefined && c !== prev && c.fingerprint256 !== prev.fingerprint256) {
    const selfIssued = c.issuerCertificate === undefined || c.issuerCertificate === c || c.issuerCertificate.fingerprint256 === c.fingerprint256;
    if (!selfIssued) intermediates++;
    prev = c;
    c = c.issuerCertificate;
    if (selfIssued) break;
  }
  return intermediates;
}

const anchorsBySsl = new WeakMap<SslConfig, readonly X509Certificate[]>();

/** ssl_client_certificate + ssl_trusted_certificate, parsed once per config. */
function anchorsOf(ssl: SslConfig): readonly X509Certificate[] {
  let a = anchorsBySsl.get(ssl);
  if (a === undefined) {
    a = [ssl.clientCertificate, ssl.trustedCertificate].flatMap((f) => (f === null ? [] : pemCertificates(f.pem)));
    anchorsBySsl.set(ssl, a);
  }
  return a;
}

function pemCertificates(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) out.push(new X509Certificate(m[0]));
  return out;
}

/** After a handshake of a server that asks for client certificates: judge what Node could not. */
export function judgeClientChain(socket: tls.TLSSocket, ssl: SslConfig): void {
  if (ssl.verifyClient === 'off') return;
  const detailed = socket.getPeerCertificate(true);
  if (detailed === null || Object.keys(detailed).length === 0) return;
  if (socket.authorized) {
    if (intermediateCount(detailed) > ssl.verifyDepth) verdicts.set(socket, DEPTH_ERROR);
    return;
  }
  if (ssl.trustedCertificate === null || !ISSUER_ERRORS.has(String(socket.authorizationError))) return;
  const sent: X509Certificate[] = [];
  for (let c: tls.DetailedPeerCertificate | undefined = detailed; c !== undefined && sent.length < MAX_CHAIN; c = c.issuerCertificate) {
    sent.push(new X509Certificate(c.raw));
    if (c.issuerCertificate === c) break;
  }
  const intermediates = pathIntermediates(sent[0]!, sent.slice(1), anchorsOf(ssl), Date.now());
  if (intermediates === null) return;
  verdicts.set(socket, intermediates > ssl.verifyDepth ? DEPTH_ERROR : null);
}

/** Intermediates on a valid path from `leaf` through `pool` to one of `anchors`; null: none. */
function pathIntermediates(leaf: X509Certificate, pool: readonly X509Certificate[], anchors: readonly X509Certificate[], now: number): number | null {
  let cur = leaf;
  for (let intermediates = 0; intermediates < MAX_CHAIN; intermediates++) {
    if (!validAt(cur, now)) return null;
    const anchor = anchors.find((a) => issued(cur, a));
    if (anchor !== undefined) return validAt(anchor, now) ? intermediates : null;
    const next = pool.find((c) => c !== cur && c.ca && issued(cur, c));
    if (next === undefined) return null;
    cur = next;
  }
  return null;
}

function issued(cert: X509Certificate, by: X509Certificate): boolean {
  return cert.checkIssued(by) && cert.verify(by.publicKey);
}

function validAt(c: X509Certificate, now: number): boolean {
  return Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
}
