/**
 * proxy_cache through real sockets: a node:http backend that counts what it is asked and
 * answers with the headers a test puts in the query string (`?cache-control=max-age%3D60`), the
 * proxy in front with a cache zone in a temp dir. Every X-Cache-Status sequence here is what
 * nginx 1.22 gave for the same requests (checked with nginx and a backend of the same kind).
 */
import fs from 'node:fs';
import http from 'node:http';
import { describe, expect, onTestFinished, test } from 'vitest';
import { request, startHttpBackend, type HttpBackend } from '../helpers/backend.js';
import { tempDir } from '../helpers/cli.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

interface Setup {
  backend: HttpBackend;
  proxy: TestProxy;
  dir: string;
  /** How many requests the backend got per URL. */
  counts: Map<string, number>;
}

/** Query parameters become response fields, `status` the status; the body names the URL. */
async function setup(locations: string, http = ''): Promise<Setup> {
  const counts = new Map<string, number>();
  const backend = await startHttpBackend('b', (req, res) => {
    const url = req.url ?? '/';
    counts.set(url, (counts.get(url) ?? 0) + 1);
    const u = new URL(url, 'http://x');
    const fields: Record<string, string> = { 'x-count': String(counts.get(url)), 'x-method': req.method ?? '' };
    for (const [k, v] of u.searchParams) if (k !== 'status' && k !== 'chunked' && k !== 'size') fields[k] = v;
    const size = Number(u.searchParams.get('size') ?? 0);
    const body = size > 0 ? Buffer.alloc(size, 'x') : Buffer.from(`body of ${url}\n`);
    if (u.searchParams.get('chunked') === null) fields['content-length'] = String(body.length);
    res.writeHead(Number(u.searchParams.get('status') ?? 200), fields);
    req.resume();
    if (u.searchParams.get('chunked') !== null) {
      res.write(body.subarray(0, 3));
      setTimeout(() => res.end(body.subarray(3)), 5);
    } else res.end(body);
  });
  const dir = tempDir('tsproxy-cache-');
  const up = `http://127.0.0.1:${backend.port}`;
  const proxy = await startProxy(`http {
    proxy_cache_path ${dir}/c levels=1:2 keys_zone=one:1m;
    ${http}
    server { listen 127.0.0.1:0;
      add_header X-Cache-Status $upstream_cache_status always;
      ${locations.replaceAll('UP', up)}
    }
  }`);
  return { backend, proxy, dir, counts };
}

async function statusesOf(s: Setup, paths: readonly string[], opts: Parameters<typeof request>[1] = {}): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const res = await request(s.proxy.url(p), opts);
    out.push(`${res.status} ${String(res.headers['x-cache-status'] ?? '-')} ${String(res.headers['x-count'])}`);
  }
  return out;
}

const VALID = 'location /valid/ { proxy_cache one; proxy_cache_valid 200 10m; proxy_pass UP; }';
const NOVALID = 'location /novalid/ { proxy_cache one; proxy_pass UP; }';

describe('MISS then HIT, and what is not stored (nginx 1.22)', () => {
  test('proxy_cache_valid 200: MISS then HIT, the backend asked once, the body and fields from the entry', async () => {
    const s = await setup(VALID);
    expect(await statusesOf(s, ['/valid/a', '/valid/a', '/valid/a'])).toEqual(['200 MISS 1', '200 HIT 1', '200 HIT 1']);
    const hit = await request(s.proxy.url('/valid/a'));
    expect(hit.body).toBe('body of /valid/a\n');
    expect(hit.headers['content-length']).toBe(String('body of /valid/a\n'.length));
    expect(s.backend.requests).toBe(1);
  });

  test('no proxy_cache_valid and no caching fields: never stored', async () => {
    const s = await setup(NOVALID);
    expect(await statusesOf(s, ['/novalid/a', '/novalid/a'])).toEqual(['200 MISS 1', '200 MISS 2']);
  });

  test.each([
    ['max-age: any status is stored', NOVALID, '/novalid/b?cache-control=max-age%3D60', ['200 MISS 1', '200 HIT 1']],
    ['max-age on a 404', NOVALID, '/novalid/c?status=404&cache-control=max-age%3D60', ['404 MISS 1', '404 HIT 1']],
    ['max-age on a 500', NOVALID, '/novalid/c?status=500&cache-control=max-age%3D60', ['500 MISS 1', '500 HIT 1']],
    ['Cache-Control: private', VALID, '/valid/d?cache-control=private', ['200 MISS 1', '200 MISS 2']],
    ['Cache-Control: no-cache', VALID, '/valid/e?cache-control=no-cache', ['200 MISS 1', '200 MISS 2']],
    ['Cache-Control: no-store', VALID, '/valid/f?cache-control=no-store', ['200 MISS 1', '200 MISS 2']],
    ['Cache-Control: no-cache="set-cookie"', VALID, '/valid/f2?cache-control=no-cache%3D%22set-cookie%22', ['200 MISS 1', '200 MISS 2']],
    ['max-age=0', VALID, '/valid/g?cache-control=max-age%3D0', ['200 MISS 1', '200 MISS 2']],
    ['max-age=1x (not a number)', NOVALID, '/novalid/g2?cache-control=max-age%3D1x', ['200 MISS 1', '200 MISS 2']],
    ['MAX-AGE in capitals', NOVALID, '/novalid/g3?cache-control=MAX-AGE%3D100', ['200 MISS 1', '200 HIT 1']],
    ['s-maxage=0 wins over max-age', VALID, '/valid/p?cache-control=public,%20s-maxage%3D0,%20max-age%3D60', ['200 MISS 1', '200 MISS 2']],
    ['Cache-Control: public alone gives no time', NOVALID, '/novalid/o?cache-control=public', ['200 MISS 1', '200 MISS 2']],
    ['Set-Cookie', VALID, '/valid/h?set-cookie=a%3Db', ['200 MISS 1', '200 MISS 2']],
    ['Vary: *', VALID, '/valid/i?vary=*', ['200 MISS 1', '200 MISS 2']],
    ['X-Accel-Expires: 0', VALID, '/valid/j?x-accel-expires=0', ['200 MISS 1', '200 MISS 2']],
    ['X-Accel-Expires: abc is ignored (proxy_cache_valid applies)', VALID, '/valid/j2?x-accel-expires=abc', ['200 MISS 1', '200 HIT 1']],
    ['X-Accel-Expires: @1 (long past): stored, then EXPIRED', VALID, '/valid/j3?x-accel-expires=@1', ['200 MISS 1', '200 EXPIRED 2']],
    ['Expires in the past', VALID, '/valid/k?expires=Thu,%2001%20Jan%201970%2000:00:00%20GMT', ['200 MISS 1', '200 MISS 2']],
    ['Expires that does not parse', VALID, '/valid/l?expires=garbage', ['200 MISS 1', '200 MISS 2']],
    ['Expires in the future', NOVALID, '/novalid/m?expires=Thu,%2001%20Jan%202099%2000:00:00%20GMT', ['200 MISS 1', '200 HIT 1']],
    ['X-Accel-Expires before Cache-Control: no-store wins', NOVALID, '/novalid/n?x-accel-expires=60&cache-control=no-store', ['200 MISS 1', '200 HIT 1']],
    ['Cache-Control: no-store before X-Accel-Expires: not stored', NOVALID, '/novalid/n2?cache-control=no-store&x-accel-expires=60', ['200 MISS 1', '200 MISS 2']],
    ['a 302 with proxy_cache_valid 200 only', VALID, '/valid/q?status=302&location=/x', ['302 MISS 1', '302 MISS 2']],
  ])('%s', async (_name, location, path, expected) => {
    const s = await setup(location);
    expect(await statusesOf(s, [path, path])).toEqual(expected);
  });

  test('only buffered responses are stored: proxy_buffering off (X-Accel-Buffering: yes turns it on), X-Accel-Buffering ignored', async () => {
    const s = await setup(`location /off/ { proxy_cache one; proxy_cache_valid 10m; proxy_buffering off; proxy_pass UP; }
      location /off-yes/ { proxy_cache one; proxy_cache_valid 10m; proxy_buffering off; proxy_pass UP; }
      location /ign/ { proxy_cache one; proxy_cache_valid 10m; proxy_ignore_headers X-Accel-Buffering; proxy_pass UP; }`);
    expect(await statusesOf(s, ['/off/a', '/off/a'])).toEqual(['200 MISS 1', '200 MISS 2']);
    expect(await statusesOf(s, ['/off-yes/a?x-accel-buffering=yes', '/off-yes/a?x-accel-buffering=yes'])).toEqual(['200 MISS 1', '200 HIT 1']);
    expect(await statusesOf(s, ['/ign/a?x-accel-buffering=no', '/ign/a?x-accel-buffering=no'])).toEqual(['200 MISS 1', '200 HIT 1']);
  });

  test('X-Accel-Buffering: no is not stored', async () => {
    const s = await setup(VALID);
    expect(await statusesOf(s, ['/valid/xa?x-accel-buffering=no', '/valid/xa?x-accel-buffering=no'])).toEqual(['200 MISS 1', '200 MISS 2']);
  });

  test('proxy_ignore_headers turns Cache-Control, Expires, Set-Cookie off', async () => {
    const s = await setup('location /ignore/ { proxy_cache one; proxy_cache_valid 10m; proxy_ignore_headers Cache-Control Expires Set-Cookie X-Accel-Expires; proxy_pass UP; }');
    const p = '/ignore/a?cache-control=no-store&set-cookie=a%3Db&expires=garbage&x-accel-expires=0';
    expect(await statusesOf(s, [p, p])).toEqual(['200 MISS 1', '200 HIT 1']);
  });

  test('a chunked body is stored whole and served with Content-Length', async () => {
    const s = await setup(VALID);
    const p = '/valid/chunked?chunked=1';
    const miss = await request(s.proxy.url(p));
    const hit = await request(s.proxy.url(p));
    expect([miss.headers['x-cache-status'], hit.headers['x-cache-status'], hit.headers['x-count']]).toEqual(['MISS', 'HIT', '1']);
    expect(hit.body).toBe(miss.body);
    expect(hit.headers['content-length']).toBe(String(miss.body.length));
  });
});

describe('$upstream_cache_status', () => {
  test('a method outside proxy_cache_methods: upstream every time, the variable empty; the GET after is a MISS', async () => {
    const s = await setup(VALID);
    expect(await statusesOf(s, ['/valid/post', '/valid/post'], { method: 'POST' })).toEqual(['200 - 1', '200 - 2']);
    expect(await statusesOf(s, ['/valid/post'])).toEqual(['200 MISS 3']);
  });

  test('proxy_cache_bypass: BYPASS, not read but stored; proxy_no_cache: never stored', async () => {
    const s = await setup(`location /bykey/ { proxy_cache one; proxy_cache_key $uri; proxy_cache_valid 10m; proxy_cache_bypass $arg_nocache; proxy_pass UP; }
      location /nocache/ { proxy_cache one; proxy_cache_key $uri; proxy_cache_valid 10m; proxy_no_cache $arg_x; proxy_pass UP; }`);
    expect(await statusesOf(s, ['/bykey/a?nocache=1', '/bykey/a', '/bykey/a?nocache=1', '/bykey/a?x', '/bykey/a?nocache=0']))
      .toEqual(['200 BYPASS 1', '200 HIT 1', '200 BYPASS 2', '200 HIT 2', '200 HIT 2']);
    expect(await statusesOf(s, ['/nocache/a?x=1', '/nocache/a?x=1', '/nocache/a', '/nocache/a?x=1'])).toEqual(['200 MISS 1', '200 MISS 2', '200 MISS 1', '200 HIT 1']);
  });

  test('proxy_cache_min_uses 2: MISS, MISS, then HIT', async () => {
    const s = await setup('location /m/ { proxy_cache one; proxy_cache_valid 10m; proxy_cache_min_uses 2; proxy_pass UP; }');
    expect(await statusesOf(s, ['/m/a', '/m/a', '/m/a', '/m/a'])).toEqual(['200 MISS 1', '200 MISS 2', '200 HIT 2', '200 HIT 2']);
  });

  test('EXPIRED once proxy_cache_valid runs out, then stored again (HIT)', async () => {
    const s = await setup('location /short/ { proxy_cache one; proxy_cache_valid 200 1s; proxy_pass UP; }');
    expect(await statusesOf(s, ['/short/a'])).toEqual(['200 MISS 1']);
    await expect.poll(async () => (await statusesOf(s, ['/short/a']))[0], { timeout: 4000, interval: 250 }).toBe('200 EXPIRED 2');
    expect(await statusesOf(s, ['/short/a'])).toEqual(['200 HIT 2']);
  });

  test('in log_format', async () => {
    const dir = tempDir('tsproxy-cache-log-');
    const s = await setup(`access_log ${dir}/a.log cachelog; ${VALID}`, "log_format cachelog '$request_uri $upstream_cache_status';");
    await statusesOf(s, ['/valid/log', '/valid/log']);
    await expect.poll(() => (fs.existsSync(`${dir}/a.log`) ? fs.readFileSync(`${dir}/a.log`, 'utf8') : '')).toBe('/valid/log MISS\n/valid/log HIT\n');
  });

  test('Vary keeps one entry per variant', async () => {
    const s = await setup(VALID);
    const p = '/valid/vary?vary=Accept';
    const seq: string[] = [];
    for (const accept of ['a', 'a', 'b', 'b', 'a']) seq.push(...(await statusesOf(s, [p], { headers: { accept } })));
    expect(seq).toEqual(['200 MISS 1', '200 HIT 1', '200 MISS 2', '200 HIT 2', '200 HIT 1']);
  });

  test('HEAD with proxy_cache_convert_head on: GET upstream, the client gets the head only, the GET after is a HIT', async () => {
    const s = await setup(VALID);
    const head = await request(s.proxy.url('/valid/head'), { method: 'HEAD' });
    expect([head.headers['x-cache-status'], head.headers['x-method'], head.headers['content-length'], head.body])
      .toEqual(['MISS', 'GET', String('body of /valid/head\n'.length), '']);
    expect(await statusesOf(s, ['/valid/head'], { method: 'HEAD' })).toEqual(['200 HIT 1']);
    const get = await request(s.proxy.url('/valid/head'));
    expect([get.headers['x-cache-status'], get.body]).toEqual(['HIT', 'body of /valid/head\n']);
    // the connection stays usable after a head-only answer
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const a = await request(s.proxy.url('/valid/head2'), { method: 'HEAD', agent });
    const b = await request(s.proxy.url('/valid/head2'), { agent });
    expect([a.headers['x-cache-status'], a.body, b.headers['x-cache-status'], b.body]).toEqual(['MISS', '', 'HIT', 'body of /valid/head2\n']);
  });

  test('HEAD with proxy_cache_convert_head off goes upstream as HEAD', async () => {
    const s = await setup('location /headoff/ { proxy_cache one; proxy_cache_valid 10m; proxy_cache_convert_head off; proxy_pass UP; }');
    const head = await request(s.proxy.url('/headoff/a'), { method: 'HEAD' });
    expect([head.headers['x-cache-status'], head.headers['x-method'], head.body]).toEqual(['MISS', 'HEAD', '']);
  });
});

describe('proxy_cache_use_stale (nginx 1.22: STALE on the named failures of an expired entry, UPDATING while another request fetches it)', () => {
  /** A backend whose answer the test switches: ok (200), a status, close (drops the connection), hang, slow (200 after 400ms). */
  async function switchable(locations: string): Promise<{ proxy: TestProxy; set(mode: string): void; backend: HttpBackend }> {
    let mode = 'ok';
    let n = 0;
    const backend = await startHttpBackend('b', (req, res) => {
      req.resume();
      n++;
      if (mode === 'close') return void req.socket.destroy();
      if (mode === 'hang') return;
      const answer = (): void => {
        res.writeHead(mode === 'ok' || mode === 'slow' ? 200 : Number(mode), { 'x-count': String(n) });
        res.end(`body ${n}`);
      };
      if (mode === 'slow') setTimeout(answer, 400);
      else answer();
    });
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c levels=1:2 keys_zone=two:1m;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status always;
        ${locations.replaceAll('UP', `http://127.0.0.1:${backend.port}`)}
      }
    }`);
    return { proxy, backend, set: (m) => void (mode = m) };
  }

  async function one(proxy: TestProxy, p: string): Promise<string> {
    const res = await request(proxy.url(p));
    return `${res.status} ${String(res.headers['x-cache-status'])} ${res.body}`;
  }

  test('error, timeout, http_500: STALE with the entry; a status not named passes (EXPIRED); a good answer replaces the entry', async () => {
    const s = await switchable(`location /s/ { proxy_cache two; proxy_cache_valid 200 1s; proxy_cache_use_stale error timeout http_500; proxy_read_timeout 300ms; proxy_pass UP; }
      location /nostale/ { proxy_cache two; proxy_cache_valid 200 1s; proxy_pass UP; }`);
    expect(await one(s.proxy, '/s/a')).toBe('200 MISS body 1');
    expect(await one(s.proxy, '/nostale/a')).toBe('200 MISS body 2');
    await expect.poll(async () => {
      s.set('500');
      return one(s.proxy, '/s/a');
    }, { timeout: 4000, interval: 250 }).toBe('200 STALE body 1');
    expect(await one(s.proxy, '/nostale/a')).toMatch(/^500 EXPIRED body \d+$/);
    s.set('503');
    expect(await one(s.proxy, '/s/a')).toMatch(/^503 EXPIRED body \d+$/);
    s.set('close');
    expect(await one(s.proxy, '/s/a')).toBe('200 STALE body 1');
    expect(await one(s.proxy, '/nostale/a')).toMatch(/^502 EXPIRED /);
    s.set('hang');
    expect(await one(s.proxy, '/s/a')).toBe('200 STALE body 1');
    s.set('ok');
    expect(await one(s.proxy, '/s/a')).toMatch(/^200 EXPIRED body \d+$/);
    expect(await one(s.proxy, '/s/a')).toMatch(/^200 HIT body \d+$/);
  });

  test('updating: while one request fetches an expired entry again, another gets the entry (UPDATING)', async () => {
    const s = await switchable('location /upd/ { proxy_cache two; proxy_cache_valid 200 1s; proxy_cache_use_stale updating; proxy_pass UP; }');
    expect(await one(s.proxy, '/upd/a')).toBe('200 MISS body 1');
    await new Promise((r) => setTimeout(r, 2100));
    s.set('slow');
    const first = one(s.proxy, '/upd/a');
    await expect.poll(() => s.backend.requests).toBe(2);
    expect(await one(s.proxy, '/upd/a')).toBe('200 UPDATING body 1');
    expect(await first).toBe('200 EXPIRED body 2');
    expect(await one(s.proxy, '/upd/a')).toBe('200 HIT body 2');
  });

  test('no entry: the failure is the answer (MISS)', async () => {
    const s = await switchable('location /s/ { proxy_cache two; proxy_cache_valid 200 1s; proxy_cache_use_stale error; proxy_pass UP; }');
    s.set('close');
    expect(await one(s.proxy, '/s/a')).toMatch(/^502 MISS /);
  });
});

describe('proxy_cache_lock (nginx 1.22: one request fills, the others wait and HIT)', () => {
  async function slow(locations: string, delayMs: number): Promise<{ proxy: TestProxy; backend: HttpBackend }> {
    const backend = await startHttpBackend('b', (req, res) => {
      req.resume();
      const n = backend.requests;
      setTimeout(() => res.end(`body ${n}`), delayMs);
    });
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c keys_zone=three:1m;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status;
        ${locations.replaceAll('UP', `http://127.0.0.1:${backend.port}`)}
      }
    }`);
    return { proxy, backend };
  }

  async function burst(proxy: TestProxy, p: string, n: number): Promise<string[]> {
    const all = await Promise.all(Array.from({ length: n }, () => request(proxy.url(p))));
    return all.map((a) => `${String(a.headers['x-cache-status'])} ${a.body}`).sort();
  }

  test('a burst of misses of one key sends one request upstream; the others get its entry', async () => {
    const s = await slow('location / { proxy_cache three; proxy_cache_valid 10m; proxy_cache_lock on; proxy_pass UP; }', 300);
    const t0 = Date.now();
    expect(await burst(s.proxy, '/a', 5)).toEqual(['HIT body 1', 'HIT body 1', 'HIT body 1', 'HIT body 1', 'MISS body 1']);
    expect(s.backend.requests).toBe(1);
    // The waiters are woken when the entry is stored, not by proxy_cache_lock_timeout (5s).
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('a waiting client that goes away is forgotten; the fill completes for the others', async () => {
    const s = await slow('location / { proxy_cache three; proxy_cache_valid 10m; proxy_cache_lock on; proxy_pass UP; }', 300);
    const first = request(s.proxy.url('/b'));
    await expect.poll(() => s.backend.requests).toBe(1);
    await new Promise<void>((resolve) => {
      const req = http.get(s.proxy.url('/b'), { agent: false });
      req.on('error', () => resolve());
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    expect((await first).headers['x-cache-status']).toBe('MISS');
    expect((await burst(s.proxy, '/b', 1))[0]).toBe('HIT body 1');
    expect(s.backend.requests).toBe(1);
  });

  test('without the lock every miss goes upstream', async () => {
    const s = await slow('location / { proxy_cache three; proxy_cache_valid 10m; proxy_pass UP; }', 200);
    const got = await burst(s.proxy, '/a', 3);
    expect(got.every((g) => g.startsWith('MISS'))).toBe(true);
    expect(s.backend.requests).toBe(3);
  });

  test('past proxy_cache_lock_timeout a waiting request goes upstream (MISS) and does not store', async () => {
    const s = await slow('location / { proxy_cache three; proxy_cache_valid 10m; proxy_cache_lock on; proxy_cache_lock_timeout 100ms; proxy_pass UP; }', 500);
    const got = await burst(s.proxy, '/a', 3);
    expect(got.map((g) => g.split(' ')[0])).toEqual(['MISS', 'MISS', 'MISS']);
    expect(s.backend.requests).toBe(3);
    expect((await burst(s.proxy, '/a', 1))[0]).toBe('HIT body 1');
  });
});

describe('proxy_cache_revalidate (nginx 1.22: a 304 to the entry\'s validators is REVALIDATED, the entry answers and is fresh again)', () => {
  test('If-Modified-Since / If-None-Match from the entry; 304: REVALIDATED then HIT; a changed resource: EXPIRED with the new body', async () => {
    const LM = 'Wed, 01 Jan 2025 00:00:00 GMT';
    let etag = '"v1"';
    const backend = await startHttpBackend('b', (req, res) => {
      req.resume();
      const fields = { 'last-modified': LM, etag, 'x-count': String(backend.requests) };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, fields);
        return void res.end();
      }
      res.writeHead(200, fields);
      res.end(`full ${backend.requests}`);
    });
    const dir = tempDir('tsproxy-cache-');
    const proxy = await startProxy(`http {
      proxy_cache_path ${dir}/c keys_zone=r:1m;
      server { listen 127.0.0.1:0;
        add_header X-Cache-Status $upstream_cache_status always;
        location / { proxy_cache r; proxy_cache_valid 200 1s; proxy_cache_revalidate on; proxy_pass http://127.0.0.1:${backend.port}; }
      }
    }`);
    const one = async (): Promise<string> => {
      const res = await request(proxy.url('/a'));
      return `${res.status} ${String(res.headers['x-cache-status'])} ${res.body}`;
    };
    expect(await one()).toBe('200 MISS full 1');
    await expect.poll(one, { timeout: 4000, interval: 300 }).toBe('200 REVALIDATED full 1');
    expect(backend.seen[1]!.headers['if-modified-since']).toBe(LM);
    expect(backend.seen[1]!.headers['if-none-match']).toBe('"v1"');
    expect(await one()).toBe('200 HIT full 1');
    etag = '"v2"';
    await expect.poll(one, { timeout: 4000, interval: 300 }).toMatch(/^200 EXPIRED full \d$/);
    expect(await one()).toMatch(/^200 HIT full \d$/);
  });
});

/** A proxy caching everything of `backend` for 10 minutes in a zone of its own. */
async function cachingProxy(backend: HttpBackend): Promise<TestProxy> {
  const dir = tempDir('tsproxy-cache-');
  return startProxy(`http {
    proxy_cache_path ${dir}/c keys_zone=z:1m;
    server { listen 127.0.0.1:0;
      add_header X-Cache-Status $upstream_cache_status always;
      location / { proxy_cache z; proxy_cache_valid 10m; proxy_pass http://127.0.0.1:${backend.port}; }
    }
  }`);
}

describe("conditional requests answered from an entry (nginx 1.22's not-modified filter on a cached 200)", () => {
  test('If-None-Match / If-Modified-Since: 304; If-Match / If-Unmodified-Since failing: 412; no validators: 200', async () => {
    const LM = 'Wed, 01 Jan 2025 00:00:00 GMT';
    const backend = await startHttpBackend('b', (req, res) => {
      req.resume();
      const bare = (req.url ?? '').includes('bare');
      res.writeHead(200, bare ? {} : { 'last-modified': LM, etag: '"v1"' });
      res.end('full');
    });
    const proxy = await cachingProxy(backend);
    const ask = async (p: string, headers: Record<string, string>): Promise<string> => {
      const res = await request(proxy.url(p), { headers });
      return `${res.status} ${String(res.headers['x-cache-status'])} ${res.body === 'full' ? 'full' : res.body === '' ? 'empty' : 'page'}`;
    };
    await ask('/c', {});
    await ask('/bare', {});
    expect(await ask('/c', { 'if-none-match': '"v1"' })).toBe('304 HIT empty');
    expect(await ask('/c', { 'if-none-match': 'W/"v1"' })).toBe('304 HIT empty');
    expect(await ask('/c', { 'if-none-match': '*' })).toBe('304 HIT empty');
    expect(await ask('/c', { 'if-none-match': '"zz"' })).toBe('200 HIT full');
    expect(await ask('/c', { 'if-modified-since': LM })).toBe('304 HIT empty');
    expect(await ask('/c', { 'if-modified-since': 'Wed, 01 Jan 2025 00:00:01 GMT' })).toBe('200 HIT full');
    expect(await ask('/c', { 'if-match': '"zz"' })).toBe('412 HIT page');
    expect(await ask('/c', { 'if-unmodified-since': 'Wed, 01 Jan 2020 00:00:00 GMT' })).toBe('412 HIT page');
    expect(await ask('/bare', { 'if-none-match': '"v1"' })).toBe('200 HIT full');
    const r304 = await request(proxy.url('/c'), { headers: { 'if-none-match': '"v1"' } });
    expect([r304.headers.etag, r304.headers['last-modified'], r304.headers['content-length']]).toEqual(['"v1"', LM, undefined]);
    expect(backend.requests).toBe(2);
  });
});

describe('Range requests answered from an entry (nginx 1.22: when the upstream sent Accept-Ranges: bytes)', () => {
  test('one range: 206 with Content-Range; past the end: 416; several ranges, no Accept-Ranges or another If-Range: the whole entry', async () => {
    const backend = await startHttpBackend('b', (req, res) => {
      req.resume();
      const offers = (req.url ?? '').includes('ar');
      res.writeHead(200, { 'content-length': '10', etag: '"e"', ...(offers ? { 'accept-ranges': 'bytes' } : {}) });
      res.end('0123456789');
    });
    const proxy = await cachingProxy(backend);
    const ask = async (p: string, headers: Record<string, string>): Promise<string> => {
      const res = await request(proxy.url(p), { headers });
      return `${res.status} ${String(res.headers['x-cache-status'])} ${String(res.headers['content-range'] ?? '-')} ${res.status === 416 ? 'page' : res.body}`;
    };
    await ask('/ar', {});
    await ask('/plain', {});
    expect(await ask('/ar', { range: 'bytes=0-1' })).toBe('206 HIT bytes 0-1/10 01');
    expect(await ask('/ar', { range: 'bytes=-3' })).toBe('206 HIT bytes 7-9/10 789');
    expect(await ask('/ar', { range: 'bytes=4-' })).toBe('206 HIT bytes 4-9/10 456789');
    expect(await ask('/ar', { range: 'bytes=20-' })).toBe('416 HIT bytes */10 page');
    expect(await ask('/ar', { range: 'bytes=0-0,2-3' })).toBe('200 HIT - 0123456789');
    expect(await ask('/ar', { range: 'bytes=0-1', 'if-range': '"other"' })).toBe('200 HIT - 0123456789');
    expect(await ask('/ar', { range: 'bytes=0-1', 'if-range': '"e"' })).toBe('206 HIT bytes 0-1/10 01');
    expect(await ask('/plain', { range: 'bytes=0-1' })).toBe('200 HIT - 0123456789');
    // the Range never reaches the upstream: what is stored is the whole response
    expect(backend.seen.every((s) => s.headers.range === undefined)).toBe(true);
    expect(backend.requests).toBe(2);
  });
});
