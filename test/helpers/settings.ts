import type { LocationSettings } from '../../src/config/types.js';

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
    proxyForwardedHeaders: true,
    proxyProtocolVersion: 0,
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
