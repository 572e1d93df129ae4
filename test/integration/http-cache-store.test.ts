/**
 * proxy_cache on disk: nginx's file layout, entries that outlive the process, corrupt and
 * truncated files, concurrent writers of one key, bodies cut short, big bodies.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { request, startHttpBackend, type HttpBackend } from '../helpers/backend.js';
import { tempDir } from '../helpers/cli.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { h2connect, h2request } from '../http2/h2-helpers.js';

const BIG_BYTES = 3 * 1024 * 1024 + 17;
/** More than loopback's socket buffers take while the client does not read. */
const HUGE_BYTES = 24 * 1024 * 1024 + 5;

/** Bodies by path: /big is BIG_BYTES of a pattern, /huge HUGE_BYTES of it, /slow waits 400 ms between two halves (long enough for a burst of clients on a loaded machine to arrive before it is stored), /cut dies mid-body. */
async function backendOf(): Promise<HttpBackend> {
  return startHttpBackend('b', (req, res, backend) => {
    req.resume();
    const url = req.url ?? '/';
    const fields = { 'x-count': String(backend.requests), 'cache-control': 'max-age=600' };
    if (url.startsWith('/big') || url.startsWith('/huge')) {
      const body = Buffer.alloc(url.startsWith('/big') ? BIG_BYTES : HUGE_BYTES);
      for (let i = 0; i < body.length; i++) body[i] = i % 251;
      res.writeHead(200, { ...fields, 'content-length': String(body.length) });
      res.end(body);
    } else if (url.startsWith('/slow')) {
      res.writeHead(200, { ...fields, 'content-length': '20' });
      res.write('0123456789');
      setTimeout(() => res.end('abcdefghij'), 400);
    } else if (url.startsWith('/cut')) {
      res.writeHead(200, { ...fields, 'content-length': '20' });
      res.write('0123456789');
      setTimeout(() => res.socket?.destroy(), 30);
    } else {
      res.writeHead(200, { ...fields, 'content-length': String(`body of ${url}`.length) });
      res.end(`body of ${url}`);
    }
  });
}

function configOf(dir: string, port: number): string {
  return `http {
    proxy_cache_path ${dir}/c levels=1:2 keys_zone=one:1m;
    server { listen 127.0.0.1:0;
      add_header X-Cache-Status $upstream_cache_status;
      location / { proxy_cache one; proxy_pass http://127.0.0.1:${port}; }
    }
  }`;
}

/** Where nginx puts the entry of `key` under levels=1:2 (checked: key http://127.0.0.1:27912/valid/a is at 5/13/10636cab8c91ad361434a536e5804135). */
function nginxPath(dir: string, key: string): string {
  const h = createHash('md5').update(key).digest('hex');
  return path.join(dir, 'c', h.slice(-1), h.slice(-3, -1), h);
}

function filesUnder(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : [];
}

async function get(proxy: TestProxy, p: string): Promise<{ status: string; count: string; body: string }> {
  const res = await request(proxy.url(p));
  return { status: String(res.headers['x-cache-status']), count: String(res.headers['x-count']), body: res.body };
}

describe('entries on disk', () => {
  test("nginx's layout: md5 of nginx's built-in key (proxy_pass URL + URI), levels from the end of the hash; no temp file left", async () => {
    expect(nginxPath('/x', 'http://127.0.0.1:27912/valid/a')).toBe('/x/c/5/13/10636cab8c91ad361434a536e5804135');
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await get(proxy, '/a?x=1');
    expect(filesUnder(path.join(dir, 'c'))).toEqual([path.relative(path.join(dir, 'c'), nginxPath(dir, `http://127.0.0.1:${backend.port}/a?x=1`))]);
  });

  test('entries outlive the process: a new runtime on the same directory answers HIT', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const first = await startProxy(configOf(dir, backend.port), { autoStop: false });
    expect(await get(first, '/keep')).toMatchObject({ status: 'MISS', count: '1' });
    await first.stop();
    const second = await startProxy(configOf(dir, backend.port));
    expect(await get(second, '/keep')).toEqual({ status: 'HIT', count: '1', body: 'body of /keep' });
    expect(backend.requests).toBe(1);
  });

  test.each([
    ['garbage', (f: string) => fs.writeFileSync(f, 'not a cache entry at all')],
    ['truncated by one byte', (f: string) => fs.truncateSync(f, fs.statSync(f).size - 1)],
    ['one byte longer', (f: string) => fs.appendFileSync(f, 'x')],
    ['empty', (f: string) => fs.writeFileSync(f, '')],
  ])('a %s entry file is a MISS, never served, and is replaced', async (_name, damage) => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await get(proxy, '/d');
    damage(nginxPath(dir, `http://127.0.0.1:${backend.port}/d`));
    expect(await get(proxy, '/d')).toEqual({ status: 'MISS', count: '2', body: 'body of /d' });
    expect(await get(proxy, '/d')).toEqual({ status: 'HIT', count: '2', body: 'body of /d' });
  });

  test('concurrent misses of one key: every client gets the whole body, the entry is whole, no temp file is left', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    const all = await Promise.all(Array.from({ length: 12 }, () => get(proxy, '/slow')));
    expect(new Set(all.map((a) => `${a.status} ${a.body}`))).toEqual(new Set(['MISS 0123456789abcdefghij']));
    expect(await get(proxy, '/slow')).toMatchObject({ status: 'HIT', body: '0123456789abcdefghij' });
    expect(filesUnder(path.join(dir, 'c'))).toHaveLength(1);
  });

  test('a body the upstream cuts short is not stored (nor its temp file kept)', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await expect(request(proxy.url('/cut'))).rejects.toThrow();
    await expect.poll(() => backend.requests).toBe(1);
    await expect(request(proxy.url('/cut'))).rejects.toThrow();
    expect(backend.requests).toBe(2);
    expect(filesUnder(path.join(dir, 'c'))).toEqual([]);
  });

  test('a client that goes away mid-body: nothing stored, no temp file left', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await new Promise<void>((resolve) => {
      const req = http.get(proxy.url('/slow-gone'), { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
    await expect.poll(() => filesUnder(path.join(dir, 'c')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    expect(filesUnder(path.join(dir, 'c'))).toEqual([]);
    expect(await get(proxy, '/slow-gone')).toMatchObject({ status: 'MISS', body: '0123456789abcdefghij' });
  });

  test('a 3 MiB body is stored while it streams and served whole from disk', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    const body = async (): Promise<{ status: string; bytes: Buffer }> =>
      new Promise((resolve, reject) => {
        http.get(proxy.url('/big'), { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: String(res.headers['x-cache-status']), bytes: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    const miss = await body();
    const hit = await body();
    expect([miss.status, hit.status]).toEqual(['MISS', 'HIT']);
    expect(hit.bytes.length).toBe(BIG_BYTES);
    expect(hit.bytes.equals(miss.bytes)).toBe(true);
    expect(hit.bytes[BIG_BYTES - 1]).toBe((BIG_BYTES - 1) % 251);
    expect(backend.requests).toBe(1);
  });

  test('24 MiB HITs to a client that stops reading and to one that reads at once: both get every byte in order', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    const fetchBig = (pauseMs: number): Promise<{ status: string; bytes: Buffer }> =>
      new Promise((resolve, reject) => {
        http.get(proxy.url('/huge'), { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: String(res.headers['x-cache-status']), bytes: Buffer.concat(chunks) }));
          if (pauseMs > 0) {
            // The proxy's writes fill the socket and stop; its reads of the entry must wait for the drain.
            res.pause();
            setTimeout(() => res.resume(), pauseMs);
          }
        }).on('error', reject);
      });
    expect((await fetchBig(0)).status).toBe('MISS');
    const [slow, fast] = await Promise.all([fetchBig(400), fetchBig(0)]);
    for (const hit of [slow, fast]) {
      expect(hit.status).toBe('HIT');
      expect(hit.bytes.length).toBe(HUGE_BYTES);
      // The backend's pattern, byte for byte: a read buffer used again too early would show here.
      let wrong = -1;
      for (let i = 0; i < hit.bytes.length && wrong < 0; i++) if (hit.bytes[i] !== i % 251) wrong = i;
      expect(wrong).toBe(-1);
    }
    expect(backend.requests).toBe(1);
  });

  test.each([
    ['truncated by one byte', (f: string) => fs.truncateSync(f, fs.statSync(f).size - 1)],
    ['garbage', (f: string) => fs.writeFileSync(f, 'not a cache entry at all')],
    ['expired in place (validSec rewritten, same size)', (f: string) => {
      const fd = fs.openSync(f, 'r+');
      const past = Buffer.alloc(8);
      past.writeDoubleBE(Math.floor(Date.now() / 1000) - 100, 0);
      fs.writeSync(fd, past, 0, 8, 16);
      fs.closeSync(fd);
    }],
  ])('an entry read before (its parsed head remembered) and then %s is read and checked again', async (name, change) => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await get(proxy, '/m');
    const file = nginxPath(dir, `http://127.0.0.1:${backend.port}/m`);
    // Old enough to be remembered (a file changed within the last second is not: coarse timestamps).
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(file, old, old);
    expect(await get(proxy, '/m')).toEqual({ status: 'HIT', count: '1', body: 'body of /m' });
    expect(await get(proxy, '/m')).toEqual({ status: 'HIT', count: '1', body: 'body of /m' });
    change(file);
    expect(await get(proxy, '/m')).toEqual({ status: name.startsWith('expired') ? 'EXPIRED' : 'MISS', count: '2', body: 'body of /m' });
    expect(await get(proxy, '/m')).toEqual({ status: 'HIT', count: '2', body: 'body of /m' });
  });

  test('HEAD on a stored GET entry: HIT, the entry\'s Content-Length, no body', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(configOf(dir, backend.port));
    await get(proxy, '/h');
    const head = await request(proxy.url('/h'), { method: 'HEAD' });
    expect([head.headers['x-cache-status'], head.headers['content-length'], head.body]).toEqual(['HIT', String('body of /h'.length), '']);
    expect(backend.requests).toBe(1);
  });
});

describe('the cache manager (inactive, max_size, min_free)', () => {
  function sizeUnder(dir: string): number {
    return filesUnder(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
  }

  test('inactive: an entry nobody asks for is removed (then MISS); one asked for stays', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c levels=1:2 keys_zone=one:1m inactive=2s;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status;
        location / { proxy_cache one; proxy_pass http://127.0.0.1:${backend.port}; }
      }
    }`);
    await get(proxy, '/idle');
    await get(proxy, '/used');
    const used = nginxPath(dir, `http://127.0.0.1:${backend.port}/used`);
    const idle = nginxPath(dir, `http://127.0.0.1:${backend.port}/idle`);
    const statuses = new Set<string>();
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      statuses.add((await get(proxy, '/used')).status);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(fs.existsSync(idle)).toBe(false);
    expect(fs.existsSync(used)).toBe(true);
    expect([...statuses]).toEqual(['HIT']);
    expect(await get(proxy, '/idle')).toMatchObject({ status: 'MISS' });
  });

  test('max_size: the least recently used entries go until the zone fits', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c levels=1:2 keys_zone=one:1m max_size=4k inactive=8s;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status;
        location / { proxy_cache one; proxy_pass http://127.0.0.1:${backend.port}; }
      }
    }`);
    for (let i = 0; i < 8; i++) {
      await get(proxy, `/${'p'.repeat(900)}${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sizeUnder(path.join(dir, 'c'))).toBeGreaterThan(4096);
    // the manager sweeps every inactive/4 (2s here)
    await expect.poll(() => sizeUnder(path.join(dir, 'c')), { timeout: 8000, interval: 250 }).toBeLessThanOrEqual(4096);
    expect(await get(proxy, `/${'p'.repeat(900)}7`)).toMatchObject({ status: 'HIT' });
    expect(await get(proxy, `/${'p'.repeat(900)}0`)).toMatchObject({ status: 'MISS' });
  }, 15_000);

  test('min_free: while the file system has less available, entries go (least recently used first); a zone whose min_free is met keeps them', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    fs.mkdirSync(path.join(dir, 'c'));
    const st = fs.statfsSync(path.join(dir, 'c'));
    // more than the file system will ever have available while the test runs
    const unreachableGiB = Math.ceil((st.bavail * st.bsize) / 1024 ** 3) + 1000;
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c levels=1:2 keys_zone=full:1m min_free=${unreachableGiB}g inactive=8s;
      proxy_cache_path ${dir}/d levels=1:2 keys_zone=roomy:1m min_free=1k inactive=8s;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status;
        location /full/ { proxy_cache full; proxy_pass http://127.0.0.1:${backend.port}; }
        location /roomy/ { proxy_cache roomy; proxy_pass http://127.0.0.1:${backend.port}; }
      }
    }`);
    for (const p of ['/full/a', '/full/b', '/roomy/a', '/roomy/b']) expect(await get(proxy, p)).toMatchObject({ status: 'MISS' });
    expect(filesUnder(path.join(dir, 'c'))).toHaveLength(2);
    // the manager sweeps every inactive/4 (2 s here)
    await expect.poll(() => filesUnder(path.join(dir, 'c')), { timeout: 8000, interval: 100 }).toEqual([]);
    expect(await get(proxy, '/full/a')).toMatchObject({ status: 'MISS' });
    expect(await get(proxy, '/roomy/a')).toMatchObject({ status: 'HIT' });
    expect(filesUnder(path.join(dir, 'd'))).toHaveLength(2);
  }, 15_000);
});

describe('HTTP/2 clients', () => {
  test('MISS then HIT over h2c of a 3 MiB body, HEAD', async () => {
    const backend = await backendOf();
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c levels=1:2 keys_zone=one:1m;
      server { listen 127.0.0.1:0 http2;
        add_header X-Cache-Status $upstream_cache_status;
        location / { proxy_cache one; proxy_pass http://127.0.0.1:${backend.port}; }
      }
    }`);
    const session = await h2connect(`http://127.0.0.1:${proxy.port()}`);
    const miss = await h2request(session, { ':path': '/big' });
    const hit = await h2request(session, { ':path': '/big' });
    expect([miss.headers['x-cache-status'], hit.headers['x-cache-status'], hit.headers['content-length']]).toEqual(['MISS', 'HIT', String(BIG_BYTES)]);
    expect(hit.body.equals(miss.body)).toBe(true);
    const head = await h2request(session, { ':path': '/big', ':method': 'HEAD' });
    expect([head.status, head.headers['x-cache-status'], head.body.length]).toEqual([200, 'HIT', 0]);
    expect(backend.requests).toBe(1);
  });
});
