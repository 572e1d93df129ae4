/**
 * limit_rate, limit_rate_after, `set $limit_rate`, X-Accel-Limit-Rate, proxy_ignore_headers and
 * proxy_limit_rate, as nginx 1.22 answers them. Checked with nginx under a temp prefix: a 30000-byte
 * file at `limit_rate 10k` takes 2.0 s (the first second's 10240 bytes, head included, go at once);
 * with `limit_rate_after 25k` it is instant; `set $limit_rate 10k` and an upstream's
 * `X-Accel-Limit-Rate: 10240` pace it the same, the header is not passed on, and
 * `proxy_ignore_headers X-Accel-Limit-Rate` turns it off; $limit_rate reads 0 in add_header for
 * the directive (it applies from the first body byte), 10240 for `set` and X-Accel, and 10240 in
 * the access log; a client that leaves after 1 s is logged 200 with the ~10 KB it got.
 *
 * The rate is the behaviour under test, so these tests time transfers; the bounds are wide (a
 * paced transfer must take at least 1.5 s, an unpaced one well under it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { request, startHttpBackend } from '../helpers/backend.js';
import { tempDir } from '../helpers/cli.js';

const BODY = 'a'.repeat(30000);

function root(): string {
  const dir = tempDir('tsproxy-rate-');
  writeFileSync(path.join(dir, 'big'), BODY);
  return dir;
}

async function timed(url: string): Promise<{ ms: number; status: number; body: string; headers: Record<string, unknown> }> {
  const start = Date.now();
  const res = await request(url);
  return { ms: Date.now() - start, ...res };
}

describe('limit_rate on static files', () => {
  it('paces the body after the first second, limit_rate_after lets a small one through, $limit_rate reads 0 in add_header', async () => {
    const dir = root();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${dir};
      location /slow/ { alias ${dir}/; limit_rate 10k; add_header X-LR $limit_rate; }
      location /after/ { alias ${dir}/; limit_rate 10k; limit_rate_after 25k; }
      location /plain/ { alias ${dir}/; } } }`);
    const [slow, after, plain] = await Promise.all([timed(proxy.url('/slow/big')), timed(proxy.url('/after/big')), timed(proxy.url('/plain/big'))]);
    expect(slow.body).toBe(BODY);
    expect(slow.ms).toBeGreaterThanOrEqual(1500);
    expect(slow.ms).toBeLessThan(6000);
    expect(slow.headers['x-lr']).toBe('0');
    expect(after.body).toBe(BODY);
    expect(after.ms).toBeLessThan(1400);
    expect(plain.ms).toBeLessThan(1400);
  });

  it('set $limit_rate and a limit_rate with variables pace it; $limit_rate reads the number', async () => {
    const dir = root();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${dir};
      location /set/ { alias ${dir}/; set $limit_rate 10k; add_header X-LR $limit_rate; }
      location /var/ { alias ${dir}/; set $r 10k; limit_rate $r; }
      location /bad/ { alias ${dir}/; set $r nonsense; limit_rate $r; } } }`);
    const [set, v, bad] = await Promise.all([timed(proxy.url('/set/big')), timed(proxy.url('/var/big')), timed(proxy.url('/bad/big'))]);
    expect(set.headers['x-lr']).toBe('10240');
    expect(set.ms).toBeGreaterThanOrEqual(1500);
    expect(v.ms).toBeGreaterThanOrEqual(1500);
    expect(v.body).toBe(BODY);
    // a value that is not a size limits nothing
    expect(bad.ms).toBeLessThan(1400);
  });

  it('keeps a keep-alive connection working across paced responses, and logs $limit_rate', async () => {
    const dir = root();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format lr "$uri $limit_rate $body_bytes_sent $status";
      server { listen 127.0.0.1:0; access_log ${log} lr;
      location / { root ${dir}; limit_rate 20k; } } }`);
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(proxy.url('/big'), { agent });
    const second = await request(proxy.url('/big'), { agent });
    agent.destroy();
    expect(first.body).toBe(BODY);
    expect(second.body).toBe(BODY);
    await expect.poll(() => readFileSync(log, 'utf8').trim().split('\n')).toEqual(['/big 20480 30000 200', '/big 20480 30000 200']);
  });

  it('a client that leaves while bytes are held is logged with what it got, and the proxy goes on', async () => {
    const dir = root();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format lr "$uri $limit_rate $body_bytes_sent $status";
      server { listen 127.0.0.1:0; access_log ${log} lr; location / { root ${dir}; limit_rate 10k; } } }`);
    const got = await new Promise<number>((resolve) => {
      const socket = net.connect(proxy.port(), '127.0.0.1');
      let bytes = 0;
      socket.on('error', () => {});
      socket.on('data', (c: Buffer) => { bytes += c.length; });
      socket.on('connect', () => socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
      setTimeout(() => { socket.destroy(); resolve(bytes); }, 500);
    });
    // the first second's worth (10240 bytes with the head) and what accrued in the half second
    // since (nginx counts whole seconds, so it sends 10240 or 20480 by then), never the whole body
    expect(got).toBeGreaterThan(5000);
    expect(got).toBeLessThan(20480);
    await expect.poll(() => readFileSync(log, 'utf8'), { timeout: 3000 }).toMatch(/^\/big 10240 \d+ 200\n$/);
    const [, , sent] = readFileSync(log, 'utf8').trim().split(' ');
    expect(Number(sent)).toBeLessThan(20480);
    expect((await request(proxy.url('/big'), { headers: { range: 'bytes=0-9' } })).body).toBe('aaaaaaaaaa');
  });
});

describe('limit_rate on proxied responses', () => {
  it('X-Accel-Limit-Rate paces the response and is not passed on; proxy_ignore_headers turns it off', async () => {
    const backend = await startHttpBackend('accel', (_req, res) => {
      res.setHeader('X-Accel-Limit-Rate', '10240');
      res.end(BODY);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /px/ { proxy_pass http://127.0.0.1:${backend.port}/; add_header X-LR $limit_rate; }
      location /off/ { proxy_pass http://127.0.0.1:${backend.port}/; proxy_ignore_headers X-Accel-Limit-Rate; } } }`);
    const [px, off] = await Promise.all([timed(proxy.url('/px/big')), timed(proxy.url('/off/big'))]);
    expect(px.body).toBe(BODY);
    expect(px.ms).toBeGreaterThanOrEqual(1500);
    expect(px.headers['x-lr']).toBe('10240');
    expect(px.headers['x-accel-limit-rate']).toBeUndefined();
    expect(off.ms).toBeLessThan(1400);
    expect(off.headers['x-accel-limit-rate']).toBeUndefined();
  });

  it('limit_rate and proxy_limit_rate pace a streamed upstream body', async () => {
    const backend = await startHttpBackend('stream', (_req, res) => {
      res.write(BODY.slice(0, 10000));
      setTimeout(() => res.end(BODY.slice(10000)), 10);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /lr/ { proxy_pass http://127.0.0.1:${backend.port}/; limit_rate 10k; }
      location /plr/ { proxy_pass http://127.0.0.1:${backend.port}/; proxy_limit_rate 10k; }
      location /fast/ { proxy_pass http://127.0.0.1:${backend.port}/; } } }`);
    const [lr, plr, fast] = await Promise.all([timed(proxy.url('/lr/x')), timed(proxy.url('/plr/x')), timed(proxy.url('/fast/x'))]);
    expect(lr.body).toBe(BODY);
    expect(plr.body).toBe(BODY);
    expect(lr.ms).toBeGreaterThanOrEqual(1500);
    expect(plr.ms).toBeGreaterThanOrEqual(1500);
    expect(fast.ms).toBeLessThan(1400);
  });
});

describe('limit_rate config', () => {
  it('refuses a constant that is not a size, and proxy_ignore_headers of an unknown field', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const bad = loadConfig('http { server { listen 127.0.0.1:0; limit_rate fast; proxy_ignore_headers X-Foo; } }', 'rate.conf');
    expect(bad.errors.map(String)).toEqual([
      expect.stringContaining('rate.conf:1:48: "limit_rate" directive invalid value'),
      expect.stringContaining('rate.conf:1:75: invalid value "X-Foo" in "proxy_ignore_headers" directive'),
    ]);
  });
});

describe('limit_rate over HTTP/2', () => {
  it('paces a stream as it paces an HTTP/1.1 response', async () => {
    const dir = root();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; root ${dir}; limit_rate 10k; } }`);
    const http2 = await import('node:http2');
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    session.on('error', () => {});
    const start = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/big' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { text += c; });
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });
    session.close();
    expect(body).toBe(BODY);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1500);
  });
});
