/**
 * TLS towards upstreams (proxy_ssl_*), what http (`proxy_pass https://`) and stream
 * (`proxy_ssl on`) share: one SecureContext per distinct ProxySslConfig (CAs, client
 * certificate, protocol range, ciphers), the name a connection sends (SNI) and verifies, and the
 * tls.connect options. A TlsTarget's `poolKey` is what a pooled connection or a kept TLS session
 * must match to be reused: a content hash of the settings plus the name when it is sent or
 * verified (content-based, so a reload that keeps the settings keeps reusing them).
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import type { ProxySslConfig, TlsProtocol } from '../config/types.js';
import { intermediateCount } from './chain.js';

/** The config-only half, shared by all locations with the same ProxySslConfig. */
export interface UpstreamTlsContext {
  readonly secureContext: tls.SecureContext;
  readonly id: string;
  readonly serverName: boolean;
  readonly verify: boolean;
  readonly verifyDepth: number;
  readonly sessionReuse: boolean;
}

/** How one request's upstream connection is secured (and which pooled ones it may take). */
export interface TlsTarget {
  readonly ctx: UpstreamTlsContext;
  /** proxy_ssl_name without port / brackets: what the certificate is checked against. */
  readonly name: string;
  /** SNI sent, null when off or when the name is an IP address (RFC 6066). */
  readonly sni: string | null;
  readonly poolKey: string;
}

/** Throws when the PEMs make no context (tls-files.ts checked them when the config loaded). */
export function buildTlsContext(p: ProxySslConfig): UpstreamTlsContext {
  const { cert, key, passphrase } = p.certificate;
  const versions = [...p.protocols].sort(byVersion);
  const opts: tls.SecureContextOptions = {
    minVersion: versions[0] ?? 'TLSv1.2',
    maxVersion: versions[versions.length - 1] ?? 'TLSv1.3',
  };
  if (p.ciphers !== 'DEFAULT') opts.ciphers = p.ciphers;
  // Without proxy_ssl_trusted_certificate Node's bundled CA list applies (nginx: OpenSSL's default store is not used).
  if (p.trustedCertificate !== null) opts.ca = p.trustedCertificate.pem;
  const withCert = cert !== null && key !== null;
  if (withCert) {
    opts.cert = cert.pem;
    opts.key = key.pem;
    if (passphrase !== null) opts.passphrase = passphrase;
  }
  const h = createHash('sha256');
  for (const part of [
    p.verify ? `verify ${p.verifyDepth}` : 'noverify', p.serverName ? 'sni' : 'nosni', opts.minVersion!, opts.maxVersion!, p.ciphers,
    p.trustedCertificate?.pem ?? '', withCert ? cert.pem : '', withCert ? key.pem : '',
  ]) h.update(part).update('\0');
  return {
    secureContext: tls.createSecureContext(opts),
    id: h.digest('base64url').slice(0, 22),
    serverName: p.serverName,
    verify: p.verify,
    verifyDepth: p.verifyDepth,
    sessionReuse: p.sessionReuse,
  };
}

const ORDER: Record<TlsProtocol, number> = { TLSv1: 0, 'TLSv1.1': 1, 'TLSv1.2': 2, 'TLSv1.3': 3 };
function byVersion(a: TlsProtocol, b: TlsProtocol): number {
  return ORDER[a] - ORDER[b];
}

export function tlsTarget(ctx: UpstreamTlsContext, raw: string): TlsTarget {
  const name = hostOf(raw);
  // nginx: literal IPv4 / IPv6 addresses are never sent as SNI (RFC 6066).
  const sni = ctx.serverName && name !== '' && net.isIP(name) === 0 ? name : null;
  const named = ctx.verify || sni !== null;
  return { ctx, name, sni, poolKey: named ? `${ctx.id} ${name}` : ctx.id };
}

/** nginx strips a port (the name often comes from $proxy_host or $http_host) and IPv6 brackets. */
function hostOf(raw: string): string {
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    if (end !== -1) return raw.slice(1, end).toLowerCase();
  }
  const colon = raw.indexOf(':');
  return (colon === -1 ? raw : raw.slice(0, colon)).toLowerCase();
}

/** Where TLS sessions are kept between connections (the pool, which outlives reloads). */
export interface TlsSessionCache {
  getSession(key: string): Buffer | undefined;
  setSession(key: string, session: Buffer): void;
}

/**
 * tls.connect options for one new connection. The verify name is checked by our own
 * checkServerIdentity because Node would check the SNI name or, without SNI, the peer's address;
 * nginx checks proxy_ssl_name either way. It also enforces proxy_ssl_verify_depth, which Node
 * has no option for.
 */
export function connectOptions(t: TlsTarget, session: Buffer | undefined): tls.ConnectionOptions {
  const ctx = t.ctx;
  const opts: tls.ConnectionOptions = { secureContext: ctx.secureContext, rejectUnauthorized: ctx.verify };
  if (t.sni !== null) opts.servername = t.sni;
  if (session !== undefined) opts.session = session;
  if (ctx.verify) {
    const name = t.name;
    const depth = ctx.verifyDepth;
    opts.checkServerIdentity = (_host, cert) => checkDepth(cert, depth) ?? tls.checkServerIdentity(name, cert);
  }
  return opts;
}

/**
 * OpenSSL's verify depth: the number of intermediate CAs allowed between the leaf and the trust
 * anchor. Node hands checkServerIdentity the chain it verified (issuerCertificate links, the
 * root pointing at itself).
 */
function checkDepth(cert: PeerCertificate, depth: number): Error | undefined {
  const intermediates = intermediateCount(cert);
  if (intermediates <= depth) return undefined;
  const err = new Error(`certificate chain too long (${intermediates} intermediate CAs, proxy_ssl_verify_depth ${depth})`) as NodeJS.ErrnoException;
  err.code = 'CERT_CHAIN_TOO_LONG';
  return err;
}
