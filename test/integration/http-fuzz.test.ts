/**
 * Random and mutated byte streams against a running proxy: whatever arrives, the proxy answers
 * with a well-formed status line (or closes), never forwards a request the backend cannot
 * parse, and keeps serving.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';

const VALID = 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi';

describe('http fuzz', () => {
  it('survives random and mutated input', async () => {
    const backend = await startHttpBackend('A', (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    // Framing or syntax errors at the backend would mean we forwarded something ambiguous. An
    // unknown method (node:http knows a fixed list) or a body cut short by a client that went
    // away are the client's doing and allowed.
    const backendErrors: string[] = [];
    backend.server.on('clientError', (err: Error & { code?: string }, socket) => {
      if (err.code !== 'HPE_INVALID_METHOD' && err.code !== 'HPE_INVALID_EOF_STATE') backendErrors.push(err.code ?? err.message);
      socket.destroy();
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_read_timeout 1s; proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const port = proxy.port();
    const mutated = fc
      .tuple(fc.integer({ min: 0, max: VALID.length }), fc.integer({ min: 0, max: 4 }), fc.string({ maxLength: 6 }))
      .map(([pos, del, ins]) => VALID.slice(0, pos) + ins + VALID.slice(pos + del));
    const random = fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('latin1'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, random), async (input) => {
        const out = await rawExchange(port, Buffer.from(input, 'latin1'), 150);
        if (out !== '') expect(out).toMatch(/^HTTP\/1\.1 \d{3} /);
      }),
      { numRuns: 60 },
    );
    expect(backendErrors).toEqual([]);
    expect((await request(`http://127.0.0.1:${port}/`)).status).toBe(200);
  }, 60_000);
});
