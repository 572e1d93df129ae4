import { describe, expect, test } from 'vitest';
import { checkResultCode } from '../../../src/upstream/health/result-code.js';

describe('checkResultCode', () => {
  test.each([
    ['http', { ok: true }, 200, 'L7 200'],
    ['http', { ok: false, reason: 'check returned status 503' }, 503, 'L7 503'],
    ['websocket', { ok: true }, 101, 'L7 101'],
    ['tcp', { ok: true }, 0, 'L4 ok'],
    ['ssl_hello', { ok: true }, 0, 'L6 ok'],
    ['tcp', { ok: false, reason: 'connect() failed (111: Connection refused)' }, 0, 'L4 connect refused'],
    ['http', { ok: false, reason: 'connect() failed (113: No route to host)' }, 0, 'L4 connect failed'],
    ['tcp', { ok: false, reason: 'timed out' }, 0, 'L4 timeout'],
    ['http', { ok: false, reason: 'timed out' }, 0, 'timeout'],
    ['http', { ok: false, reason: 'connection closed prematurely' }, 0, 'L4 connection lost'],
    ['ssl_hello', { ok: false, reason: 'check response is not a TLS handshake' }, 0, 'L6 handshake failed'],
    ['http', { ok: false, reason: 'invalid status line in check response' }, 0, 'L7 invalid response'],
  ] as const)('%s %j (status %d) -> %s', (type, result, status, code) => {
    expect(checkResultCode(type, result, status)).toBe(code);
  });
});
