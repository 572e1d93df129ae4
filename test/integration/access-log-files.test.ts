/**
 * Access and error log files through the real command line, read from disk: lines reach the file
 * at once and survive a SIGKILL; `buffer=`/`flush=`/`gzip` buffer as nginx does.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, onTestFinished, test } from 'vitest';
import { freePort, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { closedPort } from './upstream-helpers.js';
import { request } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function get(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/**
 * Start tsproxy with an access_log line (`params` after the format) on a fixed port, more
 * locations in `extra`, the error log in `errorLog` (a file) or on stderr; resolves once it serves.
 */
async function start(dir: string, params: string, opts: { extra?: string; errorLog?: string } = {}): Promise<{ run: RunningCli; port: number; log: string }> {
  const port = await freePort();
  const log = path.join(dir, 'access.log');
  const conf = path.join(dir, 'main.conf');
  fs.writeFileSync(
    conf,
    `error_log ${opts.errorLog ?? 'stderr'} info;\npid off;\nhttp { log_format p '$request_uri'; server { listen 127.0.0.1:${port}; access_log ${log} p ${params};\n` +
      ` location / { return 200 "ok"; } ${opts.extra ?? ''} } }\n`,
  );
  const run = startCli(['-c', conf]);
  const startLog = () => (opts.errorLog === undefined ? run.output() : read(opts.errorLog));
  await expect.poll(startLog, { timeout: 30_000 }).toContain('tsproxy started');
  return { run, port, log };
}

describe('log lines reach the disk at once', () => {
  test('access and error lines are in their files within 1 s; SIGKILL a second later loses none of them', async () => {
    const dir = tempDir();
    const errorLog = path.join(dir, 'error.log');
    const refused = await closedPort();
    const { run, port, log } = await start(dir, '', { errorLog, extra: `location /down { proxy_pass http://127.0.0.1:${refused}; }` });

    expect(await get(port, '/one')).toBe(200);
    await expect.poll(() => read(log), { timeout: 1_000, interval: 20 }).toBe('/one\n');
    expect(await get(port, '/down')).toBe(502);
    await expect.poll(() => read(errorLog), { timeout: 1_000, interval: 20 }).toContain('request: "GET /down HTTP/1.1"');

    for (const p of ['/a', '/b', '/c']) expect(await get(port, p)).toBe(200);
    // The property under test is time-bound: lines older than 1 s are on disk, whatever happens next.
    await new Promise((r) => setTimeout(r, 1_000));
    run.child.kill('SIGKILL');
    await run.exited;
    expect(read(log)).toBe('/one\n/down\n/a\n/b\n/c\n');
    expect(read(errorLog)).toContain('connect() failed (111: Connection refused) while connecting to upstream');
  }, 60_000);
});

describe('access_log buffer= / flush= / gzip (nginx)', () => {
  test('buffer= without flush=: lines wait in memory until USR1 or exit (nginx has no timer then)', async () => {
    const dir = tempDir();
    const { run, port, log } = await start(dir, 'buffer=64k');
    expect(await get(port, '/first')).toBe(200);
    expect(read(log)).toBe('');
    run.child.kill('SIGUSR1');
    await expect.poll(() => read(log), { timeout: 10_000 }).toBe('/first\n');
    expect(await get(port, '/second')).toBe(200);
    expect(read(log)).toBe('/first\n');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(read(log)).toBe('/first\n/second\n');
  }, 60_000);

  test('flush=: buffered lines are written once the oldest has waited that long', async () => {
    const dir = tempDir();
    const { port, log } = await start(dir, 'buffer=64k flush=300ms');
    expect(await get(port, '/x')).toBe(200);
    expect(await get(port, '/y')).toBe(200);
    await expect.poll(() => read(log), { timeout: 5_000, interval: 20 }).toBe('/x\n/y\n');
  }, 60_000);

  test('a line that does not fit writes the buffer first', async () => {
    const dir = tempDir();
    const { port, log } = await start(dir, 'buffer=8');
    expect(await get(port, '/abc')).toBe(200); // 5 bytes, buffered
    expect(read(log)).toBe('');
    expect(await get(port, '/defg')).toBe(200); // 6 more do not fit: the first goes out
    await expect.poll(() => read(log), { timeout: 5_000 }).toBe('/abc\n');
  }, 60_000);

  test('gzip: each written buffer is a gzip member; the file reads back whole', async () => {
    const dir = tempDir();
    const { run, port, log } = await start(dir, 'gzip=9 flush=200ms');
    expect(await get(port, '/one')).toBe(200);
    await expect.poll(() => fs.existsSync(log) && fs.statSync(log).size > 0, { timeout: 5_000 }).toBe(true);
    expect(await get(port, '/two')).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const bytes = fs.readFileSync(log);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(zlib.gunzipSync(bytes).toString()).toBe('/one\n/two\n');
  }, 60_000);
});

// nginx: a path with variables names the file per request (`access_log logs/$host.log` writes one
// file per host); such a log is opened for each line and cannot be buffered.
describe('access_log paths with variables', () => {
  test('http: each request is logged in the file its variables name', async () => {
    const dir = tempDir();
    const proxy = await startProxy(`http { log_format p '$request_uri';
      server { listen 127.0.0.1:0; access_log ${dir}/$host.log p; location / { return 200 "ok"; } } }`);
    const port = proxy.port();
    for (const [host, uri] of [['foo', '/1'], ['bar', '/2'], ['foo', '/3']] as const) {
      const res = await request(`http://127.0.0.1:${port}${uri}`, { headers: { host } });
      expect(res.status).toBe(200);
    }
    await expect.poll(() => read(path.join(dir, 'foo.log')), { timeout: 2_000 }).toBe('/1\n/3\n');
    await expect.poll(() => read(path.join(dir, 'bar.log')), { timeout: 2_000 }).toBe('/2\n');
  });

  test('stream: each session is logged in the file its variables name', async () => {
    const dir = tempDir();
    const backend = net.createServer((s) => {
      s.on('error', () => {});
      s.end('hi');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    onTestFinished(() => void backend.close());
    const upstreamPort = (backend.address() as net.AddressInfo).port;
    const proxy = await startProxy(`stream { log_format s '$status';
      server { listen 127.0.0.1:0; access_log ${dir}/s-$protocol.log s; proxy_pass 127.0.0.1:${upstreamPort}; } }`);
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect(proxy.port(), '127.0.0.1');
      let text = '';
      c.on('data', (d) => (text += String(d)));
      c.on('error', reject);
      c.on('close', () => resolve(text));
    });
    expect(got).toBe('hi');
    await expect.poll(() => read(path.join(dir, 's-TCP.log')), { timeout: 2_000 }).toBe('200\n');
  });
});
