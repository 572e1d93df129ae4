/**
 * Stream `return`, `$ssl_preread_protocol` / `$ssl_preread_alpn_protocols` and
 * `preread_buffer_size`, through real sockets. The expected bytes are nginx 1.22's (checked with
 * ask-nginx and openssl s_client through a relay that printed what nginx sent).
 */
import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { captureClientHello } from '../tcp/stream-harness.js';

/** Send `data`, read everything until the proxy closes. */
function exchange(port: number, data: Buffer | string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { if (data !== null) s.write(data); });
    onTestFinished(() => { s.destroy(); });
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(out) : reject(e)));
  });
}

describe('stream return', () => {
  test('sends the value with its variables and closes (nginx: "hello 127.0.0.1", nothing more)', async () => {
    const proxy = await startProxy('stream { server { listen 127.0.0.1:0; return "hello $remote_addr"; } }');
    expect(await exchange(proxy.port(), null)).toBe('hello 127.0.0.1');
  });

  test('the later of return / proxy_pass is the handler (nginx accepts both)', async () => {
    const proxy = await startProxy('stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:1; return x; } }');
    expect(await exchange(proxy.port(), null)).toBe('x');
  });
});

describe('ssl_preread variables', () => {
  const conf = 'stream { server { listen 127.0.0.1:0; ssl_preread on; return "[$ssl_preread_protocol|$ssl_preread_alpn_protocols|$ssl_preread_server_name]"; } }';

  test('a TLS 1.3 ClientHello with ALPN and SNI', async () => {
    const proxy = await startProxy(conf);
    const hello = await captureClientHello({ servername: 'a.example', ALPNProtocols: ['h2', 'http/1.1'] });
    expect(await exchange(proxy.port(), hello)).toBe('[TLSv1.3|h2,http/1.1|a.example]');
  });

  test('a TLS 1.2-only ClientHello without ALPN', async () => {
    const proxy = await startProxy(conf);
    const hello = await captureClientHello({ servername: 'b', maxVersion: 'TLSv1.2' });
    expect(await exchange(proxy.port(), hello)).toBe('[TLSv1.2||b]');
  });

  test('not TLS: all three empty', async () => {
    const proxy = await startProxy(conf);
    expect(await exchange(proxy.port(), 'GET / HTTP/1.0\r\n\r\n')).toBe('[||]');
  });

  test('preread_buffer_size smaller than the ClientHello: closed without an answer (nginx: "preread buffer full")', async () => {
    const proxy = await startProxy(conf.replace('ssl_preread on;', 'ssl_preread on; preread_buffer_size 64;'));
    const hello = await captureClientHello({ servername: 'a.example' });
    expect(hello.length).toBeGreaterThan(64);
    expect(await exchange(proxy.port(), hello)).toBe('');
  });
});
