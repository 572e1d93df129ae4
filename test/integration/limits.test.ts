/**
 * limit_req, limit_conn and stub_status through the real command line, on real sockets, with the
 * error log read from disk. Every expectation is nginx 1.22's behaviour, checked by running nginx
 * with the same config (ask-nginx / a temp prefix): the 3-of-10 arithmetic, the delays, the
 * statuses, $limit_req_status / $limit_conn_status and the exact error-log lines fail2ban's
 * nginx-limit-req filter reads.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { parseErrorLine, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backend.js';

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function lines(file: string): string[] {
  return read(file).split('\n').filter((l) => l !== '');
}

/** One GET on a new connection: status, body and how long it took. */
function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }));
    });
    req.on('error', reject);
  });
}

interface Site {
  dir: string;
  errorLog: string;
  accessLog: string;
  port: number;
  run: RunningCli;
}

/**
 * tsproxy on `http` (a block body using ROOT, ERROR_LOG and ACCESS_LOG placeholders), with a
 * static root holding /<name>/index.html for each of `dirs`; waits for the listen address.
 */
async function startSite(httpBody: string, dirs: readonly string[], main = ''): Promise<Site> {
  const dir = tempDir();
  const root = path.join(dir, 'html');
  for (const d of dirs) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.writeFileSync(path.join(root, d, 'index.html'), 'ok\n');
  }
  const errorLog = path.join(dir, 'error.log');
  const accessLog = path.join(dir, 'access.log');
  const conf = `error_log ${errorLog} info;\npid off;\nwatch off;\n${main}\nhttp {\n${httpBody.replaceAll('ROOT', root).replaceAll('ACCESS_LOG', accessLog)}\n}\n`;
  fs.writeFileSync(path.join(dir, 'main.conf'), conf);
  const run = startCli(['-c', path.join(dir, 'main.conf')]);
  await expect.poll(() => lines(errorLog).some((l) => l.includes('listening')) || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  expect(run.child.exitCode, run.output()).toBe(null);
  const listening = lines(errorLog).map(parseErrorLine).find((r) => r?.msg === 'listening');
  const port = Number(String(listening!.address).split(':')[1]);
  return { dir, errorLog, accessLog, port, run };
}

/** fail2ban's nginx-limit-req failregex (filter.d/nginx-limit-req.conf), for zone "one". */
const FAIL2BAN = /^\s*\[[a-z]+\] \d+#\d+: \*\d+ limiting requests, excess: [\d.]+ by zone "(?:one)", client: 127\.0\.0\.1,/;
const PREFIX = String.raw`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `;

describe('limit_req', () => {
  test('1r/s burst=2 nodelay: exactly 3 of 10 quick requests pass, the rest get 503 and nginx\'s error line', async () => {
    const site = await startSite(`
      log_format st '$status $limit_req_status';
      access_log ACCESS_LOG st;
      limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
      server {
        listen 127.0.0.1:0; server_name example.test; root ROOT;
        location /one/ { limit_req zone=one burst=2 nodelay; }
        location /free/ { }
      }`, ['one', 'free']);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await get(site.port, '/one/', { host: 'example.test' })).status);
    expect(statuses).toEqual([200, 200, 200, 503, 503, 503, 503, 503, 503, 503]);
    // another location of the same client is not limited
    expect((await get(site.port, '/free/')).status).toBe(200);

    await expect.poll(() => lines(site.errorLog).filter((l) => l.includes('limiting requests')).length).toBe(7);
    const rejected = lines(site.errorLog).filter((l) => l.includes('limiting requests'));
    // nginx 1.22: "... [error] 19426#19426: *4 limiting requests, excess: 2.970 by zone "one", client: 127.0.0.1,
    // server: example.test, request: "GET /one/ HTTP/1.1", host: "example.test"" (the excess is 3 requests less the
    // milliseconds since the 3rd, in thousandths)
    for (const l of rejected) {
      expect(l).toMatch(new RegExp(`${PREFIX}\\[error\\] \\d+#0: \\*\\d+ limiting requests, excess: (2\\.\\d{3}|3\\.000) by zone "one", client: 127\\.0\\.0\\.1, server: example\\.test, request: "GET /one/ HTTP/1\\.1", host: "example\\.test"$`));
      expect(l.slice(20)).toMatch(FAIL2BAN);
    }
    await expect.poll(() => lines(site.accessLog).length).toBe(11);
    expect(lines(site.accessLog)).toEqual([
      ...Array(3).fill('200 PASSED'),
      ...Array(7).fill('503 REJECTED'),
      '200 -',
    ]);
  });

  test('without nodelay excess requests really wait (2r/s: 0, 0.5, 1, 1.5 s), logged one level lower as "delaying request"', async () => {
    const site = await startSite(`
      log_format st '$status $limit_req_status';
      access_log ACCESS_LOG st;
      limit_req_zone $binary_remote_addr zone=two:1m rate=2r/s;
      server { listen 127.0.0.1:0; root ROOT; location /delay/ { limit_req zone=two burst=5; } }`, ['delay']);
    const results = await Promise.all(Array.from({ length: 4 }, () => get(site.port, '/delay/')));
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // the excess of the k-th waiting request is about k, so it waits (k - delay) / rate = k * 500 ms
    expect(ms[3]! - ms[0]!).toBeGreaterThanOrEqual(1000);
    expect(ms[1]).toBeGreaterThanOrEqual(400);
    expect(ms[2]).toBeGreaterThanOrEqual(900);
    expect(ms[3]).toBeGreaterThanOrEqual(1400);
    await expect.poll(() => lines(site.accessLog).length).toBe(4);
    expect(lines(site.accessLog).sort()).toEqual(['200 DELAYED', '200 DELAYED', '200 DELAYED', '200 PASSED']);
    const delayed = lines(site.errorLog).filter((l) => l.includes('delaying request'));
    expect(delayed).toHaveLength(3);
    // nginx 1.22: "[warn] ... delaying request, excess: 0.992, by zone "two", client: ..." (a comma before "by")
    for (const l of delayed) {
      expect(l).toMatch(new RegExp(`${PREFIX}\\[warn\\] \\d+#0: \\*\\d+ delaying request, excess: [0-3]\\.\\d{3}, by zone "two", client: 127\\.0\\.0\\.1, server: , request: "GET /delay/ HTTP/1\\.1", host: "127\\.0\\.0\\.1:${site.port}"$`));
    }
  });

  test('dry run: nothing is delayed or refused, the lines and $limit_req_status say what would have been', async () => {
    const site = await startSite(`
      log_format st '$uri $status $limit_req_status';
      access_log ACCESS_LOG st;
      limit_req_zone $binary_remote_addr zone=three:1m rate=1r/s;
      limit_req_zone $binary_remote_addr zone=four:1m rate=1r/s;
      limit_req_dry_run on;
      server {
        listen 127.0.0.1:0; root ROOT;
        location /dry/ { limit_req zone=three burst=1 nodelay; }
        location /drydelay/ { limit_req zone=four burst=3; }
      }`, ['dry', 'drydelay']);
    for (let i = 0; i < 4; i++) expect((await get(site.port, '/dry/')).status).toBe(200);
    for (let i = 0; i < 6; i++) {
      const r = await get(site.port, '/drydelay/');
      expect(r.status).toBe(200);
      // not delayed: at 1r/s the 3rd excess request would wait about 3 s
      expect(r.ms).toBeLessThan(1500);
    }
    await expect.poll(() => lines(site.accessLog).length).toBe(10);
    // nginx 1.22 with the same config: a rejected dry run does not count, so the 4th is rejected too
    expect(lines(site.accessLog).map((l) => l.split(' ')[2])).toEqual([
      'PASSED', 'PASSED', 'REJECTED_DRY_RUN', 'REJECTED_DRY_RUN',
      'PASSED', 'DELAYED_DRY_RUN', 'DELAYED_DRY_RUN', 'DELAYED_DRY_RUN', 'REJECTED_DRY_RUN', 'REJECTED_DRY_RUN',
    ]);
    const log = lines(site.errorLog);
    expect(log.filter((l) => / \[error\] .* limiting requests, dry run, excess: \d\.\d{3} by zone "three", client: /.test(l))).toHaveLength(2);
    expect(log.filter((l) => / \[warn\] .* delaying request, dry run, excess: \d\.\d{3}, by zone "four", client: /.test(l))).toHaveLength(3);
    expect(log.filter((l) => / \[error\] .* limiting requests, dry run, excess: \d\.\d{3} by zone "four", client: /.test(l))).toHaveLength(2);
  });

  test('an empty key is not limited; limit_req_status and limit_req_log_level; a location `return` answers before any limit', async () => {
    const site = await startSite(`
      limit_req_zone $http_x_key zone=k:1m rate=1r/m;
      limit_req_status 429;
      limit_req_log_level warn;
      server {
        listen 127.0.0.1:0; root ROOT;
        limit_req zone=k;
        location /k/ { }
        location /ret { return 200 "answered\\n"; }
      }`, ['k']);
    for (let i = 0; i < 3; i++) expect((await get(site.port, '/k/')).status).toBe(200);
    expect((await get(site.port, '/k/', { 'x-key': 'a' })).status).toBe(200);
    expect((await get(site.port, '/k/', { 'x-key': 'a' })).status).toBe(429);
    expect((await get(site.port, '/k/', { 'x-key': 'b' })).status).toBe(200);
    // nginx runs a location's `return` in its rewrite phase, before limit_req
    expect(await get(site.port, '/ret', { 'x-key': 'a' })).toMatchObject({ status: 200, body: 'answered\n' });
    await expect.poll(() => lines(site.errorLog).filter((l) => l.includes('limiting requests')).length).toBe(1);
    expect(lines(site.errorLog).find((l) => l.includes('limiting requests'))).toMatch(/ \[warn\] .* limiting requests, excess: 1\.\d{3} by zone "k", /);
  });
});

describe('limit_conn (http)', () => {
  test('counts requests in progress per key: a second concurrent one gets 503 and nginx\'s line; released at the request end', async () => {
    const held: http.ServerResponse[] = [];
    const answerAll = () => {
      for (const res of held.splice(0)) res.end('slow\n');
    };
    const backend = await startHttpBackend('slow', (_req, res) => void held.push(res));
    const site = await startSite(`
      log_format st '$status $limit_conn_status';
      access_log ACCESS_LOG st;
      limit_conn_zone $binary_remote_addr zone=addr:1m;
      server {
        listen 127.0.0.1:0; server_name example.test;
        location /conn { limit_conn addr 1; proxy_pass http://127.0.0.1:${backend.port}; }
        location /dry { limit_conn addr 1; limit_conn_dry_run on; limit_conn_status 429; proxy_pass http://127.0.0.1:${backend.port}; }
      }`, []);
    const first = get(site.port, '/conn');
    await expect.poll(() => backend.requests).toBe(1);
    expect((await get(site.port, '/conn')).status).toBe(503);
    // dry run: counted, logged, let through (it waits on the backend like the first)
    const dry = get(site.port, '/dry');
    await expect.poll(() => backend.requests).toBe(2);
    const log = lines(site.errorLog).filter((l) => l.includes('limiting connections'));
    expect(log).toHaveLength(2);
    // nginx 1.22: "[error] ... *30 limiting connections by zone "addr", client: 127.0.0.1, server: example.test,
    // request: "GET /conn HTTP/1.1", host: "127.0.0.1:28471""; the dry run: "limiting connections, dry run, by zone"
    expect(log[0]).toMatch(new RegExp(`${PREFIX}\\[error\\] \\d+#0: \\*\\d+ limiting connections by zone "addr", client: 127\\.0\\.0\\.1, server: example\\.test, request: "GET /conn HTTP/1\\.1", host: "127\\.0\\.0\\.1:${site.port}"$`));
    expect(log[1]).toMatch(/ \[error\] \d+#0: \*\d+ limiting connections, dry run, by zone "addr", client: 127\.0\.0\.1, server: example\.test, request: "GET \/dry HTTP\/1\.1"/);
    answerAll();
    expect((await first).status).toBe(200);
    expect((await dry).status).toBe(200);
    // both holds went back at the requests' ends
    const again = get(site.port, '/conn');
    await expect.poll(() => backend.requests).toBe(3);
    answerAll();
    expect((await again).status).toBe(200);
    await expect.poll(() => lines(site.accessLog).length).toBe(4);
    expect(lines(site.accessLog).sort()).toEqual(['200 PASSED', '200 PASSED', '200 REJECTED_DRY_RUN', '503 REJECTED']);
  });
});

describe('stub_status', () => {
  test("nginx's page byte for byte; counts accepts, requests and the request in progress", async () => {
    const site = await startSite(`
      log_format st '$connections_active $connections_writing';
      server { listen 127.0.0.1:0; location /status { stub_status; access_log ACCESS_LOG st; } location / { return 204; } }`, []);
    for (let i = 0; i < 3; i++) expect((await get(site.port, '/')).status).toBe(204);
    // one idle keep-alive connection, for Waiting
    const idle = net.connect(site.port, '127.0.0.1');
    onTestFinished(() => void idle.destroy());
    await new Promise((r) => idle.once('connect', r));
    // nginx 1.22's format: a space ends the first, third and last lines. The three closed
    // connections may take a moment to be counted as closed.
    let body = '';
    await expect.poll(async () => (body = (await get(site.port, '/status')).body))
      .toMatch(/^Active connections: 2 \nserver accepts handled requests\n (\d+) \1 \d+ \nReading: 0 Writing: 1 Waiting: 1 \n$/);
    // every connection was a new one with one request, but the idle one: accepts = requests + 1
    const accepts = Number(/\n (\d+) /.exec(body)?.[1]);
    expect(accepts).toBeGreaterThanOrEqual(5);
    expect(body).toBe(`Active connections: 2 \nserver accepts handled requests\n ${accepts} ${accepts} ${accepts - 1} \nReading: 0 Writing: 1 Waiting: 1 \n`);
    // at the log phase the request no longer counts as writing (nginx: 0 too)
    await expect.poll(() => lines(site.accessLog).at(-1)).toBe('2 0');
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port: site.port, path: '/status', agent: false }, resolve));
    expect(res.headers['content-type']).toBe('text/plain');
    res.resume();
  });
});

describe('stub_status in a server block', () => {
  // nginx 1.22 (ask-nginx): `server { stub_status; location /x { } location /y { stub_status; } }`
  // answers / (no location) and /y with the page, /x with its own content (404: not inherited)
  test('serves what no location matches; a location without it keeps its own content', async () => {
    const site = await startSite(`server { listen 127.0.0.1:0; root ROOT; stub_status; location /x { } location /y { stub_status; } }`, []);
    expect((await get(site.port, '/')).body).toMatch(/^Active connections: \d+ \n/);
    expect((await get(site.port, '/y')).body).toMatch(/^Active connections: \d+ \n/);
    expect((await get(site.port, '/x')).status).toBe(404);
  });
});

describe('limit_conn (stream)', () => {
  test('counts connections per key: the second is closed with nginx\'s line; dry run lets it through', async () => {
    const echo = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(d));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    onTestFinished(() => void echo.close());
    const echoPort = (echo.address() as net.AddressInfo).port;
    const dir = tempDir();
    const errorLog = path.join(dir, 'error.log');
    const accessLog = path.join(dir, 'access.log');
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log ${errorLog} info;\npid off;\nwatch off;\nstream {
      log_format st '$status $limit_conn_status';
      access_log ${accessLog} st;
      limit_conn_zone $binary_remote_addr zone=s:1m;
      server { listen 127.0.0.1:0; limit_conn s 1; proxy_pass 127.0.0.1:${echoPort}; }
    }\n`);
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await expect.poll(() => lines(errorLog).some((l) => l.includes('listening')) || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
    const port = Number(String(lines(errorLog).map(parseErrorLine).find((r) => r?.msg === 'listening')!.address).split(':')[1]);

    const talk = (): Promise<{ socket: net.Socket; got: string }> => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('hi'));
      socket.on('error', () => undefined);
      socket.once('data', (d) => resolve({ socket, got: String(d) }));
      socket.once('close', () => resolve({ socket, got: 'closed' }));
      onTestFinished(() => void socket.destroy());
    });
    const a = await talk();
    expect(a.got).toBe('hi');
    expect((await talk()).got).toBe('closed');
    await expect.poll(() => lines(errorLog).filter((l) => l.includes('limiting connections')).length).toBe(1);
    // nginx 1.22: "[error] 30273#30273: *3 limiting connections by zone "s" while initializing session, client: 127.0.0.1, server: 127.0.0.1:28495"
    expect(lines(errorLog).find((l) => l.includes('limiting connections'))).toMatch(
      new RegExp(`${PREFIX}\\[error\\] \\d+#0: \\*\\d+ limiting connections by zone "s" while initializing session, client: 127\\.0\\.0\\.1, server: 127\\.0\\.0\\.1:${port}$`),
    );
    a.socket.destroy();
    // the hold goes back when the session ends
    await expect.poll(async () => (await talk()).got, { timeout: 5000 }).toBe('hi');
    await expect.poll(() => lines(accessLog)).toEqual(expect.arrayContaining(['200 PASSED', '503 REJECTED']));
  });
});

describe('limits and the request path', () => {
  test('HTTP/2: limit_conn counts each stream; two concurrent streams of one session, the second gets 503', async () => {
    const http2 = await import('node:http2');
    const held: http.ServerResponse[] = [];
    const backend = await startHttpBackend('slow', (_req, res) => void held.push(res));
    const site = await startSite(`
      limit_conn_zone $binary_remote_addr zone=addr:1m;
      server { listen 127.0.0.1:0 http2; location / { limit_conn addr 1; proxy_pass http://127.0.0.1:${backend.port}; } }`, []);
    const session = http2.connect(`http://127.0.0.1:${site.port}`);
    onTestFinished(() => void session.destroy());
    session.on('error', () => undefined);
    const ask = (): Promise<number> => new Promise((resolve, reject) => {
      const s = session.request({ ':path': '/' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
    });
    const first = ask();
    await expect.poll(() => backend.requests).toBe(1);
    expect(await ask()).toBe(503);
    for (const res of held.splice(0)) res.end('done');
    expect(await first).toBe(200);
    // the stream's hold went back when it ended
    const again = ask();
    await expect.poll(() => backend.requests).toBe(2);
    for (const res of held.splice(0)) res.end('done');
    expect(await again).toBe(200);
  });

  test('a delayed request keeps its body: what arrives during the delay reaches the upstream whole', async () => {
    const backend = await startHttpBackend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    const site = await startSite(`
      limit_req_zone $binary_remote_addr zone=two:1m rate=2r/s;
      server { listen 127.0.0.1:0; location / { limit_req zone=two burst=5; proxy_pass http://127.0.0.1:${backend.port}; } }`, []);
    const post = (body: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: site.port, method: 'POST', path: '/', agent: false, headers: { 'content-length': body.length } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      // the head and the first half together, the rest while the request is delayed
      req.write(body.slice(0, body.length / 2));
      setTimeout(() => req.end(body.slice(body.length / 2)), 100);
    });
    const bodies = ['a'.repeat(5000), 'b'.repeat(5000), 'c'.repeat(70_000)];
    const results = await Promise.all(bodies.map(post));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.body)).toEqual(bodies);
    await expect.poll(() => lines(site.errorLog).filter((l) => l.includes('delaying request')).length).toBe(2);
  });
});
