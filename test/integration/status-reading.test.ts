/**
 * A server block's "reading" connections on the status page (issue 16): an HTTP/1 connection whose
 * head came in pieces counts as reading on its listen address until the head is complete, as
 * stub_status's Reading counts it for the whole process (nginx's ngx_stat_reading).
 */
import net from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { startLoggedProxy, statusJson } from './upstream-helpers.js';

describe('status page: connections reading a head', () => {
  test('a head in pieces is reading on its server block until it is complete; then the connection is idle', async () => {
    const backend = await startHttpBackend('A');
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_pass http://127.0.0.1:${backend.port}; }
      location = /status { check_status json; } } }`);
    const gauges = async () => (await statusJson(proxy.url('/status'))).servers[0]!.connections;
    const s = net.connect(proxy.port, '127.0.0.1');
    s.on('error', () => {});
    onTestFinished(() => { s.destroy(); });
    await new Promise<void>((r) => s.on('connect', () => r()));
    s.write('GET / HTTP/1.1\r\nHo');
    await expect.poll(gauges).toMatchObject({ reading: 1 });
    let reply = '';
    s.setEncoding('latin1').on('data', (d: string) => { reply += d; });
    s.write('st: x\r\n\r\n');
    await expect.poll(() => reply).toContain('HTTP/1.1 200 OK');
    // the keep-alive connection now waits for its next request: idle, not reading
    const after = await gauges();
    expect(after.reading).toBe(0);
    expect(after.idle).toBeGreaterThanOrEqual(1);
  });
});
