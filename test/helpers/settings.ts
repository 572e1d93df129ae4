import type { LocationSettings, ProxySslConfig, SslConfig } from '../../src/config/types.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };

/** LocationSettings with nginx/tsproxy defaults, for unit tests that do not load a config. */
export function locationSettings(over: Partial<LocationSettings> = {}): LocationSettings {
  return {
    proxyConnectTimeoutMs: 60_000,
    proxyReadTimeoutMs: 60_000,
    proxySendTimeoutMs: 60_000,
    proxySetHeaders: [],
    proxyHideHeaders: [],
    proxyPassHeaders: [],
    proxyHttpVersion: '1.1',
    proxyMethod: null,
    proxyPassRequestHeaders: true,
    proxyPassRequestBody: true,
    proxyRedirect: { kind: 'default' },
    proxyInterceptErrors: false,
    proxyBuffering: true,
    proxyIgnoreClientAbort: false,
    proxySocketKeepalive: false,
    proxyForwardedHeaders: true,
    proxyProtocolVersion: 0,
    proxySsl: proxySslSettings(),
    proxyNextUpstream: ['error', 'timeout'],
    proxyNextUpstreamTries: 0,
    proxyNextUpstreamTimeoutMs: 0,
    clientMaxBodySizeBytes: 1024 * 1024,
    clientBodyTimeoutMs: 60_000,
    sendTimeoutMs: 60_000,
    keepaliveTimeoutMs: 75_000,
    keepaliveRequests: 1000,
    addHeaders: [],
    errorPages: [],
    accessLogs: [],
    root: '/tmp',
    index: ['index.html'],
    websocketReadTimeoutMs: 60_000,
    serverTokens: true,
    realIp: { from: [], header: 'X-Real-IP', recursive: false },
    ...over,
  };
}

export function headerOp(name: string, value: string) {
  return { name, value, loc: LOC };
}

export function addHeader(name: string, value: string, always = false) {
  return { name, value, always, loc: LOC };
}

/** SslConfig with nginx defaults and no certificate. */
export function sslSettings(over: Partial<SslConfig> = {}): SslConfig {
  return {
    certificates: [], protocols: ['TLSv1.2', 'TLSv1.3'], ciphers: 'HIGH:!aNULL:!MD5', preferServerCiphers: false,
    sessionTimeoutMs: 300_000, sessionTickets: true, ecdhCurve: 'auto', dhparam: null, verifyClient: 'off', verifyDepth: 1,
    clientCertificate: null, trustedCertificate: null, passwordFile: null,
    sessionCache: { builtin: 'none', shared: null }, sessionTicketKeys: [], rejectHandshake: false, ...over,
  };
}

/** ProxySslConfig with nginx defaults. */
export function proxySslSettings(over: Partial<ProxySslConfig> = {}): ProxySslConfig {
  return {
    serverName: false, name: '$proxy_host', verify: false, verifyDepth: 1, trustedCertificate: null, certificate: { cert: null, key: null, passphrase: null },
    protocols: ['TLSv1.2', 'TLSv1.3'], ciphers: 'DEFAULT', sessionReuse: true, passwordFile: null, ...over,
  };
}
