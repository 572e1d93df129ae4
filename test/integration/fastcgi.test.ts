/**
 * fastcgi_pass against a real PHP-FPM (Debian's php-fpm, started by the tests): the CGI response
 * as the client gets it, the request as PHP sees it ($_SERVER, $_POST, php://input), path info,
 * keep-alive to the server, the error log's stderr lines, and the failures (502, 504). What nginx
 * does was checked with nginx 1.22 + php-fpm 8.2 (a temp prefix, Debian's fastcgi.conf).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { createLogger } from '../../src/log.js';
import { rawExchange, request } from '../helpers/backend.js';
import { freePort, startCli, tempDir } from '../helpers/cli.js';
import { NO_PHP_FPM, PHP_FPM_SKIP_NOTE, startPhpFpm, type PhpFpm } from '../helpers/php-fpm.js';
import { startProxyFromFile, type TestProxy } from '../helpers/proxy.js';

/** Every error-log record the proxy wrote (pino JSON: msg plus nginx's context fields). */
type LogRecord = Record<string, unknown> & { msg: string };

async function startProxy(text: string, logs: LogRecord[] = []): Promise<TestProxy> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return startProxyFromFile(text, tempDir(), { logger: createLogger({ level: 'info', stream: sink }) });
}

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/debian-nginx');

/** A location passing *.php to `port` the way Debian's fastcgi.conf does. */
function phpConfig(root: string, port: number | string, extra = ''): string {
  const target = typeof port === 'number' ? `127.0.0.1:${port}` : port;
  return `http {
  server {
    listen 127.0.0.1:0;
    root ${root};
    location ~ [^/]\\.php(/|$) {
      fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
      include ${FIXTURES}/fastcgi.conf;
      fastcgi_param PATH_INFO $fastcgi_path_info;
      ${extra}
      fastcgi_pass ${target};
    }
  }
}`;
}


describe.skipIf(NO_PHP_FPM)(`fastcgi_pass with php-fpm${PHP_FPM_SKIP_NOTE}`, () => {
  let fpm: PhpFpm;
  let root: string;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'tsproxy-php-'));
    fs.chmodSync(root, 0o755);
    fpm = await startPhpFpm({ root, children: 2 });
    fpm.script('server.php', `<?php header('Content-Type: application/json'); echo json_encode([
      'SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'], 'SCRIPT_FILENAME' => $_SERVER['SCRIPT_FILENAME'], 'PATH_INFO' => $_SERVER['PATH_INFO'] ?? null,
      'QUERY_STRING' => $_SERVER['QUERY_STRING'], 'REQUEST_METHOD' => $_SERVER['REQUEST_METHOD'], 'REQUEST_URI' => $_SERVER['REQUEST_URI'],
      'HTTP_HOST' => $_SERVER['HTTP_HOST'] ?? null, 'HTTP_X_TEST' => $_SERVER['HTTP_X_TEST'] ?? null, 'GET' => $_GET, 'POST' => $_POST,
      'COOKIE' => $_COOKIE, 'SERVER_SOFTWARE' => $_SERVER['SERVER_SOFTWARE'], 'CONTENT_LENGTH' => $_SERVER['CONTENT_LENGTH'] ?? null,
      'HTTPS' => $_SERVER['HTTPS'] ?? null, 'INPUT_LENGTH' => strlen(file_get_contents('php://input')), 'INPUT_MD5' => md5(file_get_contents('php://input')),
    ]);`);
    fpm.script('status.php', `<?php header('Status: 404 Gone Fishing'); header('X-From-Php: yes'); setcookie('a', 'b'); echo "nf\\n";`);
    fpm.script('created.php', `<?php http_response_code(201); echo "made";`);
    fpm.script('redirect.php', `<?php header('Location: /other.php'); echo "moved\\n";`);
    fpm.script('big.php', `<?php $line = str_repeat('x', 1023) . "\\n"; for ($i = 0; $i < 2048; $i++) { echo $line; flush(); }`);
    fpm.script('length.php', `<?php header('Content-Length: 5'); echo "hello";`);
    fpm.script('stderr.php', `<?php error_log("hello from php"); echo "ok\\n";`);
    fpm.script('slow.php', `<?php sleep(3); echo "late";`);
    fpm.script('pid.php', `<?php echo getmypid();`);
  });

  afterAll(async () => {
    await fpm?.stop();
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  test('GET: the CGI meta-variables of Debian\'s fastcgi.conf, path info split, query string, headers as HTTP_*', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port));
    const res = await request(proxy.url('/server.php/a/b?x=1&y=two'), { headers: { 'x-test': 'yes', cookie: 'c1=v1; c2=v2' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    // No Content-Length from PHP: chunked to an HTTP/1.1 client, as nginx
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const j = JSON.parse(res.body) as Record<string, unknown>;
    expect(j).toMatchObject({
      SCRIPT_NAME: '/server.php', SCRIPT_FILENAME: `${root}/server.php`, PATH_INFO: '/a/b', QUERY_STRING: 'x=1&y=two', REQUEST_METHOD: 'GET',
      REQUEST_URI: '/server.php/a/b?x=1&y=two', HTTP_HOST: `127.0.0.1:${proxy.port()}`, HTTP_X_TEST: 'yes', GET: { x: '1', y: 'two' },
      COOKIE: { c1: 'v1', c2: 'v2' }, SERVER_SOFTWARE: 'nginx/1.22.1', HTTPS: null, INPUT_LENGTH: 0,
    });
    // A fastcgi_param HTTP_* replaces the request header of that name (Debian's fastcgi_params: HTTP_HOST $host)
    const replaced = await startProxy(phpConfig(root, fpm.port, 'fastcgi_param HTTP_HOST $host;'));
    const r2 = await request(replaced.url('/server.php'), { headers: { host: 'Example.TEST:8080' } });
    expect(JSON.parse(r2.body)).toMatchObject({ HTTP_HOST: 'example.test' });
  });

  test('POST: a form body reaches $_POST; a body over 64 KB and a chunked one arrive whole (CONTENT_LENGTH set)', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port, 'client_max_body_size 10m;'));
    const form = await request(proxy.url('/server.php'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=hello+world' });
    expect(JSON.parse(form.body)).toMatchObject({ REQUEST_METHOD: 'POST', POST: { a: '1', b: 'hello world' }, CONTENT_LENGTH: '17' });
    const big = Buffer.alloc(300_000, 'q');
    const large = await request(proxy.url('/server.php'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: big });
    expect(JSON.parse(large.body)).toMatchObject({ INPUT_LENGTH: 300_000, CONTENT_LENGTH: '300000' });
    const raw = await rawExchange(proxy.port(), 'POST /server.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(body).toContain('"INPUT_LENGTH":11');
    expect(body).toContain('"CONTENT_LENGTH":"11"');
  });

  test('a body past client_body_buffer_size goes to a temp file first (nginx\'s warning), then to PHP whole from it; the file goes after', async () => {
    const bodies = tempDir();
    const logs: LogRecord[] = [];
    const proxy = await startProxy(phpConfig(root, fpm.port, `client_max_body_size 10m; client_body_buffer_size 8k; client_body_temp_path ${bodies} 2;`), logs);
    const body = Buffer.from(Array.from({ length: 700_000 }, (_, i) => 33 + ((i * 7919) % 94))); // printable: rawExchange sends text
    const md5 = createHash('md5').update(body).digest('hex');
    const res = await request(proxy.url('/server.php'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    expect(JSON.parse(res.body)).toMatchObject({ INPUT_LENGTH: body.length, INPUT_MD5: md5, CONTENT_LENGTH: String(body.length) });
    // chunked: the length PHP sees is the file's (de-chunked data)
    const chunks = [body.subarray(0, 300_000), body.subarray(300_000)].map((c) => `${c.length.toString(16)}\r\n${c.toString('latin1')}\r\n`).join('');
    const raw = await rawExchange(proxy.port(), `POST /server.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`);
    expect(raw).toContain(`"INPUT_MD5":"${md5}"`);
    expect(raw).toContain(`"CONTENT_LENGTH":"${body.length}"`);
    const warnings = logs.filter((l) => l.msg.startsWith('a client request body is buffered to a temporary file '));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]!.msg).toMatch(new RegExp(`file ${bodies}/\\d\\d/\\d{10}$`));
    await expect.poll(() => (fs.readdirSync(bodies, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(bodies, f)).isFile())).toEqual([]);
  });

  test('status, reason and headers from PHP: Status: 404 with its reason, http_response_code(201), Set-Cookie; Status itself is not passed', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port));
    const raw = await rawExchange(proxy.port(), 'GET /status.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // nginx 1.22 + php-fpm: "HTTP/1.1 404 Gone Fishing"
    expect(raw).toMatch(/^HTTP\/1\.1 404 Gone Fishing\r\n/);
    expect(raw).toMatch(/\r\nX-From-Php: yes\r\n/);
    expect(raw).toMatch(/\r\nSet-Cookie: a=b\r\n/);
    expect(raw).not.toMatch(/\r\nStatus:/i);
    const created = await request(proxy.url('/created.php'));
    expect(created.status).toBe(201);
    expect(created.body).toBe('made');
    // fastcgi_hide_header drops a header PHP sent, the others pass
    const hiding = await startProxy(phpConfig(root, fpm.port, 'fastcgi_hide_header X-From-Php;'));
    const hidden = await rawExchange(hiding.port(), 'GET /status.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(hidden).toMatch(/^HTTP\/1\.1 404 Gone Fishing\r\n/);
    expect(hidden).not.toMatch(/X-From-Php/i);
    expect(hidden).toMatch(/\r\nSet-Cookie: a=b\r\n/);
  });

  test('Location from PHP: a 302 to the client with the Location as written (nginx passes a relative one unchanged)', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port));
    const res = await request(proxy.url('/redirect.php'));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/other.php');
    expect(res.body).toBe('moved\n');
  });

  test('large output (2 MB) streams whole; a Content-Length from PHP is kept; HEAD gets the head only; keep-alive to the client holds', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port));
    const big = await request(proxy.url('/big.php'));
    expect(big.body.length).toBe(2048 * 1024);
    expect(big.body).toBe(`${'x'.repeat(1023)}\n`.repeat(2048));
    const raw = await rawExchange(proxy.port(),
      'GET /length.php HTTP/1.1\r\nHost: x\r\n\r\nHEAD /length.php HTTP/1.1\r\nHost: x\r\n\r\nGET /created.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const parts = raw.split(/(?=HTTP\/1\.1 )/);
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatch(/\r\nContent-Length: 5\r\n/);
    expect(parts[0]!.endsWith('\r\n\r\nhello')).toBe(true);
    expect(parts[1]).toMatch(/\r\nContent-Length: 5\r\n/);
    expect(parts[1]!.endsWith('\r\n\r\n')).toBe(true);
    expect(parts[2]).toMatch(/^HTTP\/1\.1 201 /);
    expect(parts[2]!.endsWith('\r\n\r\n4\r\nmade\r\n0\r\n\r\n')).toBe(true);
    // nginx adds its own Server and Date to a FastCGI response
    expect(parts[0]).toMatch(/^HTTP\/1\.1 200 OK\r\nServer: tsproxy\/[^\r]+\r\nDate: [^\r]+ GMT\r\n/);
  });

  test('stderr: nginx\'s error-log line "FastCGI sent in stderr: ..." with the request context', async () => {
    const logs: LogRecord[] = [];
    const proxy = await startProxy(phpConfig(root, fpm.port), logs);
    const res = await request(proxy.url('/stderr.php'), { headers: { host: 'example.test' } });
    expect(res.body).toBe('ok\n');
    // nginx 1.22: [error] ... *1 FastCGI sent in stderr: "PHP message: hello from php" while reading response header from
    // upstream, client: 127.0.0.1, server: , request: "GET /err.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:PORT", host: "..."
    await expect.poll(() => logs.find((l) => l.msg.startsWith('FastCGI sent in stderr'))).toMatchObject({
      level: 'error', msg: 'FastCGI sent in stderr: "PHP message: hello from php" while reading response header from upstream',
      client: '127.0.0.1', server: '', request: 'GET /stderr.php HTTP/1.1', upstream: `fastcgi://127.0.0.1:${fpm.port}`, host: 'example.test',
    });
  });

  test('the stderr line on disk through the command line, in nginx\'s layout (fail2ban-style filters read it)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'error.log');
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log ${log} info;\npid off;\n${phpConfig(root, fpm.port).replace('listen 127.0.0.1:0;', `listen 127.0.0.1:${port}; server_name _;`)}\n`);
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    const read = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    await expect.poll(() => read().includes('tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
    expect((await request(`http://127.0.0.1:${port}/stderr.php`, { headers: { host: 'localhost' } })).body).toBe('ok\n');
    // nginx 1.22 + php-fpm 8.2 wrote, for the same script:
    // 2026/12/06 19:15:08 [error] 16824#16824: *1 FastCGI sent in stderr: "PHP message: hello from php" while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /err.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:23872", host: "127.0.0.1:23871"
    const line = `FastCGI sent in stderr: "PHP message: hello from php" while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /stderr.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:${fpm.port}", host: "localhost"`;
    await expect.poll(read, { timeout: 2_000, interval: 20 }).toMatch(new RegExp(String.raw`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#0: \*\d+ ` + line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$', 'm'));
  });

  test('a missing script: php-fpm\'s 404 "File not found." and its stderr line, as nginx relays them', async () => {
    const logs: LogRecord[] = [];
    const proxy = await startProxy(phpConfig(root, fpm.port), logs);
    const res = await request(proxy.url('/nothere.php'));
    expect(res.status).toBe(404);
    expect(res.body).toBe('File not found.\n');
    await expect.poll(() => logs.map((l) => l.msg)).toContain('FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream');
  });

  test('fastcgi_read_timeout: a slow script is 504 with nginx\'s timeout line', async () => {
    const logs: LogRecord[] = [];
    const proxy = await startProxy(phpConfig(root, fpm.port, 'fastcgi_read_timeout 1s;'), logs);
    const res = await request(proxy.url('/slow.php'));
    expect(res.status).toBe(504);
    await expect.poll(() => logs.map((l) => l.msg)).toContain('upstream timed out (110: Connection timed out) while reading response header from upstream');
  });

  test('fastcgi_keep_conn on: one connection to php-fpm serves several requests; off: one connection each', async () => {
    // A relay in front of php-fpm counts the connections tsproxy opens.
    let connections = 0;
    const relay = net.createServer((c) => {
      connections++;
      const up = net.connect({ host: '127.0.0.1', port: fpm.port });
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    onTestFinished(() => void relay.close());
    const relayPort = (relay.address() as net.AddressInfo).port;
    const kept = await startProxy(phpConfig(root, relayPort, 'fastcgi_keep_conn on;'));
    const pids = new Set<string>();
    for (let i = 0; i < 5; i++) pids.add((await request(kept.url('/pid.php'))).body);
    expect(connections).toBe(1);
    expect(pids.size).toBe(1);
    await kept.stop();
    connections = 0;
    const closed = await startProxy(phpConfig(root, relayPort, ''));
    for (let i = 0; i < 3; i++) expect((await request(closed.url('/pid.php'))).status).toBe(200);
    expect(connections).toBe(3);
  });

  test('Debian\'s site pattern: location ~ \\.php$ { include snippets/fastcgi-php.conf; fastcgi_pass ...; } (try_files =404 for a missing script)', async () => {
    const snippet = fs.readFileSync(path.join(FIXTURES, 'snippets/fastcgi-php.conf'), 'utf8').replace('include fastcgi.conf;', `include ${FIXTURES}/fastcgi.conf;`);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'fastcgi-php.conf'), snippet);
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; index index.php;
      location ~ \\.php$ { include ${dir}/fastcgi-php.conf; fastcgi_pass 127.0.0.1:${fpm.port}; } } }`);
    const res = await request(proxy.url('/server.php?q=1'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ SCRIPT_FILENAME: `${root}/server.php`, SCRIPT_NAME: '/server.php', GET: { q: '1' }, PATH_INFO: '' });
    expect((await request(proxy.url('/missing.php'))).status).toBe(404);
  });

  test('fastcgi_pass inside a location if; fastcgi_index for a URI ending in /; $realpath_root through a symlink', async () => {
    fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
    fpm.script('dir/index.php', `<?php echo $_SERVER['SCRIPT_NAME'], '|', $_SERVER['SCRIPT_FILENAME'];`);
    const link = path.join(tempDir(), 'current');
    fs.symlinkSync(root, link);
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${link};
      location /dir/ { fastcgi_index index.php; include ${FIXTURES}/fastcgi.conf; fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name; fastcgi_pass 127.0.0.1:${fpm.port}; }
      location /cond { include ${FIXTURES}/fastcgi.conf; fastcgi_param SCRIPT_FILENAME ${root}/created.php; if ($arg_php) { fastcgi_pass 127.0.0.1:${fpm.port}; } return 418; } } }`);
    const index = await request(proxy.url('/dir/'));
    expect(index.body).toBe(`/dir/index.php|${root}/dir/index.php`);
    expect((await request(proxy.url('/cond?php=1'))).status).toBe(201);
    expect((await request(proxy.url('/cond'))).status).toBe(418);
  });

  test('fastcgi_intercept_errors: a 404 from PHP is answered by error_page; off, PHP\'s own body passes', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location = /on.php { fastcgi_intercept_errors on; error_page 404 =200 /page; include ${FIXTURES}/fastcgi.conf; fastcgi_param SCRIPT_FILENAME ${root}/status.php; fastcgi_pass 127.0.0.1:${fpm.port}; }
      location = /off.php { error_page 404 =200 /page; include ${FIXTURES}/fastcgi.conf; fastcgi_param SCRIPT_FILENAME ${root}/status.php; fastcgi_pass 127.0.0.1:${fpm.port}; }
      location = /page { return 200 "the error page"; } } }`);
    const on = await request(proxy.url('/on.php'));
    expect([on.status, on.body]).toEqual([200, 'the error page']);
    const off = await request(proxy.url('/off.php'));
    expect([off.status, off.body]).toEqual([404, 'nf\n']);
  });

  test('an HTTP/1.0 client gets the body unframed and the connection closed at its end', async () => {
    const proxy = await startProxy(phpConfig(root, fpm.port));
    const raw = await rawExchange(proxy.port(), 'GET /created.php HTTP/1.0\r\nHost: x\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 201 /);
    expect(raw).not.toMatch(/Transfer-Encoding/i);
    expect(raw.endsWith('\r\n\r\nmade')).toBe(true);
  });

  test('error_page to a PHP location (the page has the error\'s status); an HTTP/2 client gets the body in DATA frames', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; root ${root}; error_page 404 /created.php;
      location = /missing { return 404; }
      location ~ \\.php$ { include ${FIXTURES}/fastcgi.conf; fastcgi_pass 127.0.0.1:${fpm.port}; } } }`);
    const client = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    client.on('error', () => undefined);
    onTestFinished(() => void client.close());
    const get = (p: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': p });
      let body = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
    expect(await get('/big.php')).toMatchObject({ status: 200, body: `${'x'.repeat(1023)}\n`.repeat(2048) });
    // nginx: the error page keeps the error's status (404), its body is the script's
    expect(await get('/missing')).toEqual({ status: 404, body: 'made' });
  });

  test('an upstream group with two servers: a dead one is passed over (fastcgi_next_upstream error), as for proxy_pass', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = await startProxy(`http { upstream php { server 127.0.0.1:${deadPort}; server 127.0.0.1:${fpm.port}; }
      server { listen 127.0.0.1:0; root ${root}; location ~ \\.php$ { include ${FIXTURES}/fastcgi.conf; fastcgi_pass php; } } }`);
    for (let i = 0; i < 4; i++) expect((await request(proxy.url('/created.php'))).status).toBe(201);
  });
});

describe.skipIf(NO_PHP_FPM)(`fastcgi_pass failures${PHP_FPM_SKIP_NOTE}`, () => {
  test('php-fpm down: 502 with nginx\'s connect() line', async () => {
    const dir = tempDir();
    const logs: LogRecord[] = [];
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = await startProxy(phpConfig(dir, port), logs);
    const res = await request(proxy.url('/x.php'));
    expect(res.status).toBe(502);
    await expect.poll(() => logs.find((l) => l.level === 'error')).toMatchObject({
      msg: 'connect() failed (111: Connection refused) while connecting to upstream', upstream: `fastcgi://127.0.0.1:${port}`,
    });
  });

  test('a backend that speaks no FastCGI: 502, and the proxy goes on serving', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\n\r\nnot fastcgi'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => void server.close());
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startProxy(phpConfig(tempDir(), port));
    expect((await request(proxy.url('/x.php'))).status).toBe(502);
    expect((await request(proxy.url('/x.php'))).status).toBe(502);
  });
});
