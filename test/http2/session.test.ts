import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { configFrom, startProxy } from '../helpers/proxy.js';
import { startHttpBackend } from '../helpers/backend.js';
import { h2connect, h2request, toolMissing } from './h2-helpers.js';

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function goaway(session: http2.ClientHttp2Session): Promise<number> {
  return new Promise((resolve) => session.once('goaway', (code: number) => resolve(code)));
}

describe('HTTP/2 sessions', () => {
  it.skipIf(toolMissing('curl'))('serves Debian curl --http2-prior-knowledge', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { add_header X-H2 yes; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const res = await curl(['-sS', '-i', '--http2-prior-knowledge', proxy.url('/c')]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^HTTP\/2 200/);
    expect(res.stdout).toMatch(/x-h2: yes/i);
    expect(res.stdout.endsWith('\r\n\r\nA')).toBe(true);
    const post = await curl(['-sS', '--http2-prior-knowledge', '--data-binary', 'hello', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', proxy.url('/p')]);
    expect(post.stdout).toBe('200 2');
  });

  it('keepalive_timeout closes an idle session with GOAWAY', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; keepalive_timeout 300ms; location / { return 200 "x"; } } }`);
    const s = await h2connect(proxy.url(''));
    const gone = goaway(s);
    expect((await h2request(s, { ':path': '/' })).text).toBe('x');
    expect(await gone).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await expect.poll(() => s.destroyed || s.closed).toBe(true);
  });

  it('keepalive_requests caps the streams of a session', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; keepalive_requests 3; location / { return 200 "x"; } } }`);
    const s = await h2connect(proxy.url(''));
    const gone = goaway(s);
    for (let i = 0; i < 3; i++) expect((await h2request(s, { ':path': `/${i}` })).text).toBe('x');
    await gone;
    await expect.poll(() => s.destroyed || s.closed).toBe(true);
  });

  it('a reload applies to new streams of an open session', async () => {
    const text = (body: string): string => `http { server { listen 127.0.0.1:0 http2; location / { return 200 "${body}"; } } }`;
    const proxy = await startProxy(text('one'));
    const s = await h2connect(proxy.url(''));
    expect((await h2request(s, { ':path': '/' })).text).toBe('one');
    await proxy.runtime.reload(configFrom(text('two')));
    expect((await h2request(s, { ':path': '/' })).text).toBe('two');
  });

  it('a graceful stop sends GOAWAY and lets an in-flight stream finish', async () => {
    let release: (() => void) | null = null;
    const a = await startHttpBackend('A', (_req, res) => {
      release = () => res.end('late');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const pending = h2request(s, { ':path': '/slow' });
    await expect.poll(() => release !== null).toBe(true);
    const gone = goaway(s);
    const stopped = proxy.runtime.stop({ graceful: true, timeoutMs: 10_000 });
    await gone;
    release!();
    expect((await pending).text).toBe('late');
    await stopped;
  });

  it('client_body_timeout and send_timeout apply per stream; the session keeps serving', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url === '/stuck') {
        // A body bigger than the client's stream window (64 KiB, never read): send_timeout fires.
        res.end(Buffer.alloc(256 * 1024, 'z'));
        return;
      }
      req.resume();
      req.on('end', () => res.end('A'));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; client_body_timeout 1s; send_timeout 1s;
      location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    // A body that stops after 3 of its 10 bytes: the stream ends after client_body_timeout.
    const slow = s.request({ ':method': 'POST', ':path': '/body', 'content-length': '10' });
    slow.on('error', () => {});
    slow.resume();
    slow.write('abc');
    const slowClosed = new Promise<number>((resolve) => slow.on('close', () => resolve(slow.rstCode ?? 0)));
    // A response the client never reads: the stream is reset after send_timeout.
    const stuck = s.request({ ':path': '/stuck' }, { endStream: true });
    stuck.on('error', () => {});
    stuck.pause();
    const stuckClosed = new Promise<number>((resolve) => stuck.on('close', () => resolve(stuck.rstCode ?? 0)));
    const started = Date.now();
    await slowClosed;
    await stuckClosed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(stuck.rstCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect((await h2request(s, { ':path': '/after', ':method': 'POST' }, 'x')).text).toBe('A');
  });

  it('applies the request head limits (large_client_header_buffers)', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; large_client_header_buffers 2 1k; location / { return 200 "x"; } } }`);
    const s = await h2connect(proxy.url(''));
    const long = await h2request(s, { ':path': `/${'a'.repeat(1500)}` });
    expect(long.status).toBe(414);
    expect((await h2request(s, { ':path': '/', 'x-ok': 'b'.repeat(500) })).status).toBe(200);
  });
});
