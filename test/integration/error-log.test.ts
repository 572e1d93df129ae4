/**
 * The error log through the real command line, read from disk: nginx's text layout and wording
 * for the upstream failures operators' tools look for, lines on disk at once, JSON as an
 * opt-in, one clear line for a failed bind, and error_log following reloads (single process and
 * workers).
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { freePort, parseErrorLine, runCli, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { closedPort } from './upstream-helpers.js';

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The error-log records in a file (nginx's text layout). */
function recordsIn(file: string): Record<string, string>[] {
  return read(file).split('\n').map(parseErrorLine).filter((r) => r !== null);
}

function get(port: number, urlPath: string, host = 'localhost'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** A raw backend: `answer` writes what it likes once a request arrives (null: never answers). */
async function rawBackend(answer: string | null): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    if (answer !== null) s.once('data', () => s.end(answer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** A port something else listens on until the test ends. */
async function takenPort(): Promise<number> {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  onTestFinished(() => void blocker.close());
  return (blocker.address() as net.AddressInfo).port;
}

async function waitStarted(file: string, run: RunningCli): Promise<void> {
  await expect.poll(() => recordsIn(file).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  expect(run.child.exitCode, run.output()).toBe(null);
}

const TIME_PID = String.raw`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#0: \*\d+ `;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe("nginx's layout and wording", () => {
  test('refused, timed out, no live upstreams, invalid header: the lines nginx 1.22 writes, each on disk within 1 s', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'error.log');
    const port = await freePort();
    const refused = await closedPort();
    const silent = await rawBackend(null);
    const invalid = await rawBackend('HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n');
    fs.writeFileSync(
      path.join(dir, 'main.conf'),
      `error_log ${log} info;\npid off;\nhttp {\n upstream dead { server 127.0.0.1:${refused} down; }\n` +
        ` upstream two { server 127.0.0.1:${refused} max_fails=1; server 127.0.0.1:1 max_fails=1; }\n` +
        ` server { listen 127.0.0.1:${port}; server_name _;\n` +
        `  location /refused { proxy_pass http://127.0.0.1:${refused}; }\n` +
        `  location /timeout { proxy_read_timeout 300ms; proxy_pass http://127.0.0.1:${silent}; }\n` +
        `  location /nolive { proxy_pass http://dead; }\n` +
        `  location /invalid { proxy_pass http://127.0.0.1:${invalid}; }\n` +
        `  location /two { proxy_pass http://two; }\n } }\n`,
    );
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await waitStarted(log, run);

    // What nginx 1.22 logs for the same requests (ask-nginx; the pid#tid and *N vary).
    const expected: [string, number, string][] = [
      ['/refused', 502, `connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:${refused}/refused", host: "localhost"`],
      ['/timeout', 504, `upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /timeout HTTP/1.1", upstream: "http://127.0.0.1:${silent}/timeout", host: "localhost"`],
      ['/nolive', 502, 'no live upstreams while connecting to upstream, client: 127.0.0.1, server: _, request: "GET /nolive HTTP/1.1", upstream: "http://dead/nolive", host: "localhost"'],
      ['/invalid', 502, `upstream sent invalid header: "Bad\\x20..." while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /invalid HTTP/1.1", upstream: "http://127.0.0.1:${invalid}/invalid", host: "localhost"`],
    ];
    for (const [urlPath, status, line] of expected) {
      expect(await get(port, urlPath)).toBe(status);
      // read from disk, not from memory: the line is there within a second of the response
      await expect.poll(() => read(log), { timeout: 1_000, interval: 20 }).toMatch(new RegExp(`^${TIME_PID}${escape(line)}$`, 'm'));
    }
    // max_fails reached: nginx warns after the connect() error, with the same context
    expect(await get(port, '/two')).toBe(502);
    for (const peer of [`127.0.0.1:${refused}`, '127.0.0.1:1']) {
      const warn = `upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: _, request: "GET /two HTTP/1.1", upstream: "http://${peer}/two", host: "localhost"`;
      await expect.poll(() => read(log), { timeout: 1_000, interval: 20 }).toMatch(new RegExp(`^${TIME_PID.replace('error', 'warn')}${escape(warn)}$`, 'm'));
    }
  });

  test('`error_log stderr info json` writes JSON lines with nginx level names', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'main.conf'), 'error_log stderr info json;\npid off;\nhttp { server { listen 127.0.0.1:0; location / { return 200; } } }\n');
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    const json = () => run.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    await expect.poll(() => json().some((r) => r.msg === 'tsproxy started'), { timeout: 30_000 }).toBe(true);
    expect(json().find((r) => r.msg === 'listening')).toMatchObject({ level: 'notice', listen: '127.0.0.1:0', pid: run.child.pid });
    expect(run.output().split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
  });
});

describe('a failed start', () => {
  test('a port in use: one line in the layout on stderr (error_log stderr), no JSON, no stack', async () => {
    const taken = await takenPort();
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'main.conf'), `pid off;\nhttp { server { listen 127.0.0.1:${taken}; location / { return 200; } } }\n`);
    const r = await runCli(['-c', path.join(dir, 'main.conf')], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d \\[emerg\\] \\d+#0: bind\\(\\) to 127\\.0\\.0\\.1:${taken} failed \\(98: Address already in use\\)\\n$`));
  });

  test('with a file error log: the line in the file, and nginx\'s one "tsproxy: [emerg]" line on stderr', async () => {
    const taken = await takenPort();
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log logs/error.log;\npid off;\nhttp { server { listen 127.0.0.1:${taken}; location / { return 200; } } }\n`);
    const r = await runCli(['-c', path.join(dir, 'main.conf')], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsproxy: [emerg] bind() to 127.0.0.1:${taken} failed (98: Address already in use)\n`);
    expect(recordsIn(path.join(dir, 'logs/error.log')).map((x) => [x.level, x.msg])).toEqual([['emerg', `bind() to 127.0.0.1:${taken} failed (98: Address already in use)`]]);
  });
});

describe('a start that fails on a file (nginx 1.22 wording and exit code, checked with ask-nginx)', () => {
  // nginx: `nginx: [emerg] open() "/x/afile/x.log" failed (20: Not a directory)`, exit 1, and the line in the error log.
  const cases: [string, (bad: string) => string][] = [
    ['an access_log', (bad) => `http { access_log ${bad}; server { listen 127.0.0.1:0; return 200; } }`],
    ['a stream access_log', (bad) => `stream { access_log ${bad}; server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:1; } }`],
  ];
  for (const workers of [1, 2]) {
    for (const [what, conf] of cases) {
      test(`${what} under a regular file, worker_processes ${workers}: one [emerg] line, exit 1, no stack`, async () => {
        const dir = tempDir();
        const file = path.join(dir, 'afile');
        fs.writeFileSync(file, 'x');
        const bad = path.join(file, 'x.log');
        fs.writeFileSync(path.join(dir, 'main.conf'), `error_log logs/error.log;\npid off;\nworker_processes ${workers};\n${conf(bad)}\n`);
        const r = await runCli(['-c', path.join(dir, 'main.conf')], { timeoutMs: 30_000 });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`tsproxy: [emerg] open() "${bad}" failed (20: Not a directory)\n`);
        expect(recordsIn(path.join(dir, 'logs/error.log')).map((x) => [x.level, x.msg])).toEqual([['emerg', `open() "${bad}" failed (20: Not a directory)`]]);
      });
    }
  }

  test('a pid file that cannot be written: one [emerg] line, exit 1', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'afile');
    fs.writeFileSync(file, 'x');
    const bad = path.join(file, 'tsproxy.pid');
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log logs/error.log;\npid ${bad};\nhttp { server { listen 127.0.0.1:0; return 200; } }\n`);
    const r = await runCli(['-c', path.join(dir, 'main.conf')], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsproxy: [emerg] open() "${bad}" failed (20: Not a directory)\n`);
    expect(recordsIn(path.join(dir, 'logs/error.log')).map((x) => x.msg)).toContain(`open() "${bad}" failed (20: Not a directory)`);
  });

  test('an error_log under a regular file: the one line on stderr (there is no other log), exit 1', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'afile');
    fs.writeFileSync(file, 'x');
    const bad = path.join(file, 'error.log');
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log ${bad};\npid off;\nhttp { server { listen 127.0.0.1:0; return 200; } }\n`);
    const r = await runCli(['-c', path.join(dir, 'main.conf')], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d \\[emerg\\] \\d+#0: open\\(\\) "${bad.replace(/[.]/g, '\\.')}" failed \\(20: Not a directory\\)\\n$`));
  });
});

describe('error_log follows reloads', () => {
  for (const workers of [1, 2]) {
    test(`worker_processes ${workers}: after a reload, lines go to the new error_log (and in its format), none to the old one`, async () => {
      const dir = tempDir();
      const port = await freePort();
      const refused = await closedPort();
      const conf = path.join(dir, 'main.conf');
      const write = (errorLog: string) =>
        fs.writeFileSync(conf, `${errorLog}\npid off;\nwatch off;\nworker_processes ${workers};\nhttp { server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:${refused}; } } }\n`);
      write('error_log a.log info;');
      const run = startCli(['-c', conf]);
      const a = path.join(dir, 'a.log');
      const b = path.join(dir, 'b.log');
      await waitStarted(a, run);
      expect(await get(port, '/first')).toBe(502);
      await expect.poll(() => read(a), { timeout: 5_000 }).toContain('request: "GET /first HTTP/1.1"');

      write('error_log b.log info json;');
      run.child.kill('SIGHUP');
      await expect.poll(() => read(b), { timeout: 10_000 }).toContain('"msg":"configuration reloaded"');
      // every worker answers; each logs its failure to the new file only
      for (let i = 0; i < 6; i++) expect(await get(port, `/second${i}`)).toBe(502);
      const second = () => read(b).split('\n').filter((l) => l.includes('/second')).map((l) => JSON.parse(l) as { level: string; request: string });
      await expect.poll(() => second().length, { timeout: 5_000 }).toBe(6);
      expect(second()[0]).toMatchObject({ level: 'error', request: 'GET /second0 HTTP/1.1' });
      expect(read(a)).not.toContain('/second');
      expect(read(a)).not.toContain('configuration reloaded');
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }, 90_000);
  }
});
