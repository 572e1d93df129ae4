import { describe, expect, it } from 'vitest';
import { HEAD_READY, HeadAccumulator } from '../../src/wire/head-accumulator.js';
import { parseRequestHead } from '../../src/wire/http1-request.js';
import { closeFrame, CLOSE_GOING_AWAY, CLOSE_NORMAL, upgradeRequest, websocketAccept, websocketKey } from '../../src/wire/websocket.js';

describe('handshake', () => {
  it('computes Sec-WebSocket-Accept as RFC 6455 §1.3 shows', () => {
    expect(websocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('makes fresh 16-byte keys', () => {
    const a = websocketKey();
    expect(Buffer.from(a, 'base64')).toHaveLength(16);
    expect(websocketKey()).not.toBe(a);
  });

  it('writes an upgrade request the head parser takes as a WebSocket upgrade', () => {
    const limits = { requestLineBytes: 1024, headerLineBytes: 1024, headBytes: 4096 };
    const acc = new HeadAccumulator();
    expect(acc.push(Buffer.from(upgradeRequest('/ws/health', '127.0.0.1:9001', 'dGhlIHNhbXBsZSBub25jZQ=='), 'latin1'), limits)).toBe(HEAD_READY);
    expect(acc.rest).toBeNull();
    expect(parseRequestHead(acc.head, limits)).toMatchObject({
      method: 'GET',
      target: '/ws/health',
      host: '127.0.0.1:9001',
      upgrade: 'websocket',
      headers: expect.arrayContaining(['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version', '13']),
    });
  });
});

describe('close frames', () => {
  it.each([
    [CLOSE_GOING_AWAY, [0x88, 0x02, 0x03, 0xe9]],
    [CLOSE_NORMAL, [0x88, 0x02, 0x03, 0xe8]],
    [4001, [0x88, 0x02, 0x0f, 0xa1]],
  ])('%i from a server: FIN + close, unmasked, two bytes of code', (code, bytes) => {
    expect([...closeFrame(code, false)]).toEqual(bytes);
  });

  it('from a client: masked (RFC 6455 §5.3), a fresh mask each time', () => {
    const a = closeFrame(CLOSE_GOING_AWAY, true);
    expect(a).toHaveLength(8);
    expect([a[0], a[1]]).toEqual([0x88, 0x82]);
    expect([a[6]! ^ a[2]!, a[7]! ^ a[3]!]).toEqual([0x03, 0xe9]);
    const masks = new Set(Array.from({ length: 8 }, () => closeFrame(CLOSE_NORMAL, true).subarray(2, 6).toString('hex')));
    expect(masks.size).toBeGreaterThan(1);
  });
});
