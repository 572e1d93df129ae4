/**
 * $request_body and $request_body_file with client_body_buffer_size, client_body_in_file_only,
 * client_body_in_single_buffer, client_body_temp_path and proxy_request_buffering, through real
 * sockets. Every expectation is nginx 1.22's answer to the same config and bytes (checked with
 * ask-nginx and a raw socket sending the body 100 ms after the head, as these tests do).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { rawExchange, startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';
import { h2connect, h2request } from '../http2/h2-helpers.js';

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsp-body-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A backend that reads the whole body, then answers with its length. */
async function backend(): Promise<number> {
  const b = await startHttpBackend('b', (req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => { n += d.length; });
    req.on('end', () => res.end(`up len=${n}\n`));
  });
  return b.port;
}

/** POST `body` (Content-Length, or one chunk with `chunked`) with the body 100 ms after the head; the raw reply. */
function post(port: number, uri: string, body: string, chunked = false): Promise<string> {
  const head = chunked
    ? `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`
    : `POST ${uri} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  const data = chunked ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  return rawExchange(port, head, 2000, { data, afterMs: 100 });
}

function header(reply: string, name: string): string | undefined {
  const m = new RegExp(`^${name}: (.*)$`, 'mi').exec(reply.slice(0, reply.indexOf('\r\n\r\n')));
  return m?.[1]?.replace(/\r$/, '');
}

/** The access log's lines once `count` are there. */
async function logLines(file: string, count: number): Promise<string[]> {
  await expect.poll(() => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0)).toBeGreaterThanOrEqual(count);
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

const SHOW = 'add_header X-Body "[$request_body]" always; add_header X-File "[$request_body_file]" always;';

describe('$request_body / $request_body_file (nginx 1.22)', () => {
  test('a body that fits the buffer is $request_body; one larger goes to a file removed after the request', async () => {
    const up = await backend();
    const dir = tempDir();
    const log = path.join(dir, 'access.log');
    const tmp = path.join(dir, 'body');
    const proxy = await startProxy(`http {
      log_format body '$request_uri [$request_body] [$request_body_file]';
      server { listen 127.0.0.1:0; access_log ${log} body; client_body_buffer_size 16; client_body_temp_path ${tmp};
        location /p { proxy_pass http://127.0.0.1:${up}; ${SHOW} }
        location /b8 { client_body_buffer_size 8k; proxy_pass http://127.0.0.1:${up}; ${SHOW} }
      } }`);
    const port = proxy.port();
    // Content-Length: in memory while shorter than the buffer + 1/4 (16 + 4)
    let reply = await post(port, '/p?1', '0123456789');
    expect(header(reply, 'X-Body')).toBe('[0123456789]');
    expect(header(reply, 'X-File')).toBe('[]');
    expect(reply).toContain('up len=10');
    reply = await post(port, '/p?2', '0123456789abcdefXYZ');
    expect(header(reply, 'X-Body')).toBe('[0123456789abcdefXYZ]');
    reply = await post(port, '/p?3', '0123456789abcdefXYZW');
    expect(header(reply, 'X-Body')).toBe('[]');
    const file = header(reply, 'X-File')!.slice(1, -1);
    expect(file).toMatch(new RegExp(`^${tmp}/\\d{10}$`));
    expect(reply).toContain('up len=20');
    // chunked: the framed bytes must fit the buffer ("f\r\n" + 15 + "\r\n0\r\n\r\n" do not)
    reply = await post(port, '/p?4', '0123456789abcde', true);
    expect(header(reply, 'X-Body')).toBe('[]');
    expect(header(reply, 'X-File')).toMatch(/^\[.+\/\d{10}\]$/);
    expect(reply).toContain('up len=15');
    reply = await post(port, '/b8', 'hello', true);
    expect(header(reply, 'X-Body')).toBe('[hello]');
    const big = 'a'.repeat(3000);
    reply = await post(port, '/b8', big);
    expect(header(reply, 'X-Body')).toBe(`[${big}]`);
    const lines = await logLines(log, 6);
    // nginx logs an absent body or file as "-" (not found), not as an empty value
    expect(lines.slice(0, 3)).toEqual(['/p?1 [0123456789] [-]', '/p?2 [0123456789abcdefXYZ] [-]', `/p?3 [-] [${file}]`]);
    // the temp file of a body that did not fit is removed once the request is over (nginx)
    await expect.poll(() => fs.readdirSync(tmp).length).toBe(0);
  });

  test('client_body_in_file_only on keeps the file, clean removes it; $request_body stays empty', async () => {
    const up = await backend();
    const dir = tempDir();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; client_body_temp_path ${dir}/t 1 2;
      location /f { client_body_in_file_only on; proxy_pass http://127.0.0.1:${up}; ${SHOW} }
      location /c { client_body_in_file_only clean; proxy_pass http://127.0.0.1:${up}; ${SHOW} }
      location /s { client_body_in_single_buffer on; proxy_pass http://127.0.0.1:${up}; ${SHOW} }
    } }`);
    const port = proxy.port();
    let reply = await post(port, '/f', 'hello');
    expect(header(reply, 'X-Body')).toBe('[]');
    const kept = header(reply, 'X-File')!.slice(1, -1);
    // levels 1 2: the last digit, then the two before it (nginx's hashed directories)
    const name = path.basename(kept);
    expect(kept).toBe(path.join(dir, 't', name.slice(9), name.slice(7, 9), name));
    await expect.poll(() => fs.existsSync(kept) && fs.readFileSync(kept, 'utf8')).toBe('hello');
    reply = await post(port, '/c', 'bye', true);
    const cleaned = header(reply, 'X-File')!.slice(1, -1);
    expect(cleaned).not.toBe(kept);
    expect(reply).toContain('up len=3');
    await expect.poll(() => fs.existsSync(cleaned)).toBe(false);
    expect(fs.readFileSync(kept, 'utf8')).toBe('hello');
    // Content-Length: 0 still makes a file (nginx); no body at all makes none
    reply = await post(port, '/c', '');
    expect(header(reply, 'X-File')).toMatch(/^\[.+\/\d{10}\]$/);
    reply = await rawExchange(port, 'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(header(reply, 'X-File')).toBe('[]');
    reply = await post(port, '/s', 'single');
    expect(header(reply, 'X-Body')).toBe('[single]');
    expect(header(reply, 'X-File')).toBe('[]');
  });

  test('an error_page proxied again keeps the first copy, and its file is still removed at the end', async () => {
    const failing = await startHttpBackend('f', (req, res) => { req.resume(); req.on('end', () => { res.statusCode = 502; res.end('bad'); }); });
    const up = await backend();
    const dir = tempDir();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format f '$request_body_file';
      server { listen 127.0.0.1:0; client_body_in_file_only clean; client_body_temp_path ${dir}/t; access_log ${log} f;
        location / { proxy_intercept_errors on; error_page 502 = @next; proxy_pass http://127.0.0.1:${failing.port}; }
        location @next { proxy_pass http://127.0.0.1:${up}; } } }`);
    const reply = await post(proxy.port(), '/', 'hello');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    const [line] = await logLines(log, 1);
    expect(line).toMatch(new RegExp(`^${dir}/t/\\d{10}$`));
    await expect.poll(() => fs.readdirSync(path.join(dir, 't')).length).toBe(0);
  });

  test('a client that leaves mid-body leaves no file; a directory that cannot be made is logged and the request goes on', async () => {
    const up = await backend();
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'plain-file'), '');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /gone { client_body_in_file_only clean; client_body_temp_path ${dir}/t; proxy_pass http://127.0.0.1:${up}; }
      location /bad { client_body_in_file_only clean; client_body_temp_path ${dir}/plain-file/t; proxy_pass http://127.0.0.1:${up}; ${SHOW} } } }`);
    const s = net.connect(proxy.port(), '127.0.0.1');
    s.on('error', () => {});
    s.write('POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf');
    await expect.poll(() => fs.existsSync(path.join(dir, 't')) && fs.readdirSync(path.join(dir, 't')).length).toBe(1);
    s.destroy();
    await expect.poll(() => fs.readdirSync(path.join(dir, 't')).length).toBe(0);
    const reply = await post(proxy.port(), '/bad', 'hello');
    expect(reply).toContain('up len=5');
    expect(header(reply, 'X-File')).toBe('[]');
  });

  test('a return location and proxy_request_buffering off leave both empty', async () => {
    const up = await backend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /r { ${SHOW} return 200 "ret [$request_body]"; }
      location /u { proxy_request_buffering off; proxy_pass http://127.0.0.1:${up}; ${SHOW} }
    } }`);
    const port = proxy.port();
    let reply = await post(port, '/r', 'hello');
    expect(header(reply, 'X-Body')).toBe('[]');
    expect(reply).toContain('ret []');
    reply = await post(port, '/u', 'hello');
    expect(header(reply, 'X-Body')).toBe('[]');
    expect(header(reply, 'X-File')).toBe('[]');
    expect(reply).toContain('up len=5');
  });

  // nginx 1.22 (temp prefix): with proxy_request_buffering on (the default) the body is read before
  // the upstream is asked, so proxy_set_header X-Body $request_body sends it (also for a chunked
  // body, which goes upstream with a Content-Length there); a body larger than
  // client_body_buffer_size is not in memory, and the header is not sent
  test('proxy_set_header reads it: the body is read before the upstream is asked (proxy_request_buffering on)', async () => {
    const b = await startHttpBackend('b', (req, res) => { req.resume(); req.on('end', () => res.end(`x-body=${String(req.headers['x-body'])}`)); });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_set_header X-Body $request_body; proxy_pass http://127.0.0.1:${b.port}; add_header X-Body "[$request_body]"; } } }`);
    // the body comes 100 ms after the head
    const reply = await post(proxy.port(), '/', 'hello');
    expect(reply).toContain('x-body=hello');
    expect(header(reply, 'X-Body')).toBe('[hello]');
    expect(await post(proxy.port(), '/', 'hello', true)).toContain('x-body=hello');
    expect(await post(proxy.port(), '/', 'a'.repeat(40000))).toContain('x-body=undefined');
  });

  test('through a map, and a body the client sends in the same packet as the head', async () => {
    const up = await backend();
    const dir = tempDir();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http {
      map $request_body $kind { ~^\\{ json; default other; }
      log_format k '$kind';
      server { listen 127.0.0.1:0; location / { access_log ${log} k; proxy_pass http://127.0.0.1:${up}; } } }`);
    const res = await fetch(proxy.url('/'), { method: 'POST', body: '{"a":1}' });
    expect(await res.text()).toBe('up len=7\n');
    await fetch(proxy.url('/'), { method: 'POST', body: 'x=1' }).then((r) => r.text());
    expect(await logLines(log, 2)).toEqual(['json', 'other']);
  });

  test('the access log escapes the body as any value (escape=default)', async () => {
    const up = await backend();
    const dir = tempDir();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format b '[$request_body]';
      server { listen 127.0.0.1:0; location / { access_log ${log} b; proxy_pass http://127.0.0.1:${up}; } } }`);
    await post(proxy.port(), '/', 'a"b\\c');
    expect(await logLines(log, 1)).toEqual(['[a\\x22b\\x5Cc]']);
  });

  test('HTTP/2 bodies, with and without content-length (nginx 1.22 over h2c)', async () => {
    const up = await backend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; client_body_buffer_size 16;
      location / { proxy_pass http://127.0.0.1:${up}; ${SHOW} } } }`);
    const s = await h2connect(proxy.url(''));
    onTestFinished(() => { s.destroy(); });
    let res = await h2request(s, { ':method': 'POST', ':path': '/' }, 'hello');
    expect([res.headers['x-body'], res.headers['x-file'], res.text]).toEqual(['[hello]', '[]', 'up len=5\n']);
    res = await h2request(s, { ':method': 'POST', ':path': '/', 'content-length': '5' }, 'hello');
    expect(res.headers['x-body']).toBe('[hello]');
    res = await h2request(s, { ':method': 'POST', ':path': '/' }, '0123456789abcdefXYZW0123456789');
    expect(res.headers['x-body']).toBe('[]');
    expect(res.headers['x-file']).toMatch(/^\[.+\/\d{10}\]$/);
    expect(res.text).toBe('up len=30\n');
  });
});
