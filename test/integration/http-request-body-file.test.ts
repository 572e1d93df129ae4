/**
 * A proxied request body larger than client_body_buffer_size, with proxy_request_buffering on (the
 * default), goes on into a temp file under client_body_temp_path, as nginx 1.22 does (checked under
 * a temp prefix: `[warn] a client request body is buffered to a temporary file
 * /tmp/ngx1/body/1/00/0000000001, client: ..., request: "POST /2500 HTTP/1.1", host: ...` with
 * `client_body_temp_path ... 1 2`, the upstream asked only once the body is complete, the file gone
 * after the request). The upstream gets the body from the file, whole and in order; a retry on the
 * next peer gets it again from the file; a file that cannot be written is a 500.
 */
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startLoggedProxy } from './upstream-helpers.js';

interface Seen { at: number; method: string; bytes: number; sha: string; ended: boolean }

/** A backend that records when each request's head arrived and a hash of its body. */
async function hashingBackend(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const s: Seen = { at: Date.now(), method: req.method ?? '', bytes: 0, sha: '', ended: false };
    seen.push(s);
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => { s.bytes += c.length; hash.update(c); });
    req.on('end', () => { s.ended = true; s.sha = hash.digest('hex'); res.end(`got ${s.bytes}`); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsp-bodyfile-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under `dir` (relative paths). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/** A raw client: the head and `first` bytes now, the rest when `sendRest` is called; resolves with the reply. */
function rawUpload(port: number, head: string, first: Buffer): { reply: Promise<string>; sendRest(rest: Buffer): number } {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  onTestFinished(() => { s.destroy(); });
  const reply = new Promise<string>((resolve) => {
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
  });
  s.write(head);
  s.write(first);
  return { reply, sendRest: (rest) => { s.write(rest); return Date.now(); } };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a buffered request body past client_body_buffer_size goes to a temp file', () => {
  it('the upstream is asked once the body is complete, gets it whole from the file, and the file goes after', async () => {
    const b = await hashingBackend();
    const dir = tempDir();
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0; client_body_buffer_size 16k;
      client_body_temp_path ${dir} 1 2; location / { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const body = randomBytes(1024 * 1024);
    const up = rawUpload(proxy.port, `POST /up HTTP/1.1\r\nHost: files\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body.subarray(0, 300_000));
    // While the client is still uploading, the body is in a file (levels 1 2: d/dd/0000000nnn) and the upstream has nothing.
    await expect.poll(() => filesUnder(dir)).toEqual([expect.stringMatching(/^\d\/\d\d\/\d{10}$/)]);
    const file = path.join(dir, filesUnder(dir)[0]!);
    await expect.poll(() => fs.statSync(file).size, { timeout: 5000 }).toBe(300_000);
    expect(b.seen).toEqual([]);
    const restAt = up.sendRest(body.subarray(300_000));
    const reply = await up.reply;
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toContain(`got ${body.length}`);
    expect(b.seen).toHaveLength(1);
    expect(b.seen[0]!.at).toBeGreaterThanOrEqual(restAt);
    expect(b.seen[0]!.sha).toBe(sha(body));
    // nginx's warning names the file; the file is removed once the request is logged.
    const warn = proxy.logs.find((l) => String(l.msg).startsWith('a client request body is buffered to a temporary file'));
    expect(warn?.msg).toBe(`a client request body is buffered to a temporary file ${file}`);
    expect(warn?.level).toBe('warn');
    expect(warn?.request).toBe('POST /up HTTP/1.1');
    await expect.poll(() => filesUnder(dir)).toEqual([]);
  });

  it('a chunked body goes there too once more than the buffer came; one shorter than the buffer (+1/4 for a Content-Length) stays in memory', async () => {
    const b = await hashingBackend();
    const dir = tempDir();
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0; client_body_buffer_size 4k;
      client_body_temp_path ${dir}; location / { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const big = randomBytes(200_000);
    const chunked = await fetchRaw(proxy.port, 'PUT', big, true);
    expect(chunked).toContain(`got ${big.length}`);
    expect(b.seen[0]!.sha).toBe(sha(big));
    const small = randomBytes(4096 + 1000);
    expect(await fetchRaw(proxy.port, 'PUT', small, false)).toContain(`got ${small.length}`);
    expect(b.seen[1]!.sha).toBe(sha(small));
    const warnings = proxy.logs.filter((l) => String(l.msg).startsWith('a client request body is buffered'));
    expect(warnings.map((l) => l.request)).toEqual(['PUT /chunked HTTP/1.1']);
    await expect.poll(() => filesUnder(dir)).toEqual([]);
  });

  it('a retry on the next peer sends the whole body again from the file', async () => {
    const b = await hashingBackend();
    // The first peer reads part of the body, then drops the connection: an error proxy_next_upstream retries.
    let dropped = 0;
    const breaker = net.createServer((s) => {
      s.on('error', () => {});
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got > 100_000) { dropped++; s.destroy(); }
      });
    });
    await new Promise<void>((r) => breaker.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => breaker.close(() => r())));
    const dir = tempDir();
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${(breaker.address() as net.AddressInfo).port}; server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; client_body_buffer_size 16k; client_body_temp_path ${dir};
        location / { proxy_pass http://app; } } }`);
    const body = randomBytes(500_000);
    const reply = await fetchRaw(proxy.port, 'PUT', body, false);
    expect(dropped).toBe(1);
    expect(proxy.logs.filter((l) => String(l.msg).startsWith('a client request body is buffered'))).toHaveLength(1);
    expect(reply).toContain(`got ${body.length}`);
    expect(b.seen.map((s) => s.sha)).toEqual([sha(body)]);
    await expect.poll(() => filesUnder(dir)).toEqual([]);
  });

  it('a temp file that cannot be created is a 500 (nginx: 500 after its crit line), logged with TSP_ERR_BODY_FILE', async () => {
    const b = await hashingBackend();
    const dir = tempDir();
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0; client_body_buffer_size 1k;
      client_body_temp_path ${blocker}/body; location / { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    // Part of the body, so that it cannot be complete at once (a body that came whole needs no file).
    const up = rawUpload(proxy.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n', randomBytes(20_000));
    const reply = await up.reply;
    expect(reply).toMatch(/^HTTP\/1\.1 500 /);
    expect(reply).toContain('Connection: close');
    expect(b.seen).toEqual([]);
    expect(proxy.logs.some((l) => l.code === 'TSP_ERR_BODY_FILE')).toBe(true);
  });
});

/** One request on a raw socket (Connection: close), chunked or with a Content-Length; resolves with the raw reply. */
function fetchRaw(port: number, method: string, body: Buffer, chunked: boolean): Promise<string> {
  const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  onTestFinished(() => { s.destroy(); });
  return new Promise((resolve) => {
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.write(`${method} /${chunked ? 'chunked' : 'length'} HTTP/1.1\r\nHost: x\r\n${framing}\r\nConnection: close\r\n\r\n`);
    if (!chunked) return void s.write(body);
    for (let i = 0; i < body.length; i += 10_000) {
      const part = body.subarray(i, i + 10_000);
      s.write(`${part.length.toString(16)}\r\n`);
      s.write(part);
      s.write('\r\n');
    }
    s.write('0\r\n\r\n');
  });
}
