/**
 * Stream scripting beyond what js-stream.test.ts covers: js_periodic and js_shared_dict_zone in
 * stream {} (njs 0.8's; the installed njs 0.7.9 has neither, so njs's documented behaviour),
 * ngx.fetch from stream scripts with stream {}'s js_fetch_*, a js_set that returns a Promise
 * (beyond njs: awaited before proxy_pass, with a timeout and a clear error), and the error-log
 * lines of s.log / ngx.log (nginx + njs 0.7.9's layout, checked with a local nginx).
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startAccessProxy } from './access/helpers.js';
import { rawExchange, startRawBackend } from '../helpers/backend.js';
import { loadConfig } from '../../src/config/load.js';
import { echoBackend, udpClient } from './udp-helpers.js';
import { freePort, logRecords, startCli, tempDir } from '../helpers/cli.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/stream-more.js');
const UDP_FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/stream-udp.js');

function streamProxy(body: string, http = '') {
  return startAccessProxy(`error_log stderr info;\n${http}\nstream {
  js_import main from DIR/stream-more.js;
  js_import udp from DIR/stream-udp.js;
  ${body}
}`, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'stream-more.js'));
    fs.copyFileSync(UDP_FIXTURE, path.join(dir, 'stream-udp.js'));
  });
}

/** A directory service: GET /pick answers `answer()` (after `delayMs`). */
async function directory(answer: () => string, delayMs = 0): Promise<number> {
  const server = http.createServer((_req, res) => setTimeout(() => res.end(answer()), delayMs));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return (server.address() as net.AddressInfo).port;
}

describe('stream js_periodic and js_shared_dict_zone', () => {
  test('a periodic task counts into a stream zone; a session reads it and counts its own hits', async () => {
    const p = await streamProxy(`js_shared_dict_zone zone=ticks:64k type=number;
  js_shared_dict_zone zone=hits:64k type=number;
  js_set $count main.count nocache;
  server { listen 127.0.0.1:0; js_periodic main.tick interval=50ms; return "$count\\n"; }`);
    await expect.poll(async () => Number(/ticks=(\d+)/.exec(await rawExchange(p.port, 'x'))?.[1]), { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    const a = await rawExchange(p.port, 'x');
    const b = await rawExchange(p.port, 'x');
    expect(Number(/hits=(\d+)/.exec(b)?.[1])).toBe(Number(/hits=(\d+)/.exec(a)?.[1]) + 1);
    // the periodic session's variables are empty
    expect(b).toMatch(/ bad=0\n$/);
  });

  test('worker_processes 2: one stream zone, whichever worker serves the session; the periodic task runs in worker 0 only', async () => {
    const dir = tempDir();
    fs.copyFileSync(FIXTURE, path.join(dir, 'stream-more.js'));
    const port = await freePort();
    const file = path.join(dir, 'main.conf');
    fs.writeFileSync(file, `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;
stream {
  js_import main from ${dir}/stream-more.js;
  js_shared_dict_zone zone=ticks:64k type=number;
  js_shared_dict_zone zone=hits:64k type=number;
  js_set $count main.count nocache;
  server { listen 127.0.0.1:${port}; js_periodic main.tick interval=100ms; return "$count $pid\\n"; }
}
`);
    const run = startCli(['-c', file]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 60_000 }).toBe(true);
    expect(run.child.exitCode, run.output()).toBe(null);
    const seen: string[] = [];
    while (seen.length < 10 || (new Set(seen.map((l) => l.split(' ')[3])).size < 2 && seen.length < 200)) seen.push(await rawExchange(port, 'x'));
    expect(new Set(seen.map((l) => l.split(' ')[3])).size, run.output().slice(-2000)).toBe(2);
    // one counter across both workers: each session's hit is the next number
    const hits = seen.map((l) => Number(/hits=(\d+)/.exec(l)?.[1]));
    expect(hits).toEqual(hits.map((_, i) => i + 1));
    // ticks grow at one worker's pace: 5 more take over 4 x 100ms (both workers: half that)
    const ticks = async () => Number(/ticks=(\d+)/.exec(await rawExchange(port, 'x'))?.[1]);
    const first = await ticks();
    const startedMs = Date.now();
    await expect.poll(ticks, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(first + 5);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(350);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 90_000);

  test('a zone name in both http {} and stream {} is refused (one ngx.shared holds both areas\' zones)', () => {
    const r = loadConfig(`http { js_shared_dict_zone zone=z:64k; server { listen 127.0.0.1:0; } }
stream { js_shared_dict_zone zone=z:64k; server { listen 127.0.0.1:0; return "x"; } }`, 'inline.conf');
    expect(r.errors.map(String).join('\n')).toContain('zone "z" is already a js_shared_dict_zone of http {}');
  });
});

describe('stream js_set returning a Promise (beyond njs), ngx.fetch in stream', () => {
  test('the backend is looked up with ngx.fetch in a js_set and awaited before proxy_pass', async () => {
    const backend = await startRawBackend((socket, all) => { if (all.includes('\n')) socket.end(`backend got ${all}`); });
    const dir = await directory(() => `127.0.0.1:${backend.port}\n`);
    const p = await streamProxy(`js_var $directory_port ${dir};
  js_set $backend main.lookup;
  js_fetch_timeout 5s;
  server { listen 127.0.0.1:0; proxy_pass $backend; }`);
    expect(await rawExchange(p.port, 'hello\n')).toBe('backend got hello\n');
    // ngx.log in the js_set (a handler of session *N) writes the session's line
    await expect.poll(() => p.lines()).toContain('[info] js: lookup for 127.0.0.1');
  });

  test('js_fetch_timeout of stream {}: a directory that does not answer in time gives "" and a logged error', async () => {
    const dir = await directory(() => '127.0.0.1:1\n', 2000);
    const p = await streamProxy(`js_var $directory_port ${dir};
  js_set $backend main.lookup;
  js_fetch_timeout 200ms;
  server { listen 127.0.0.1:0; proxy_pass $backend; }`);
    expect(await rawExchange(p.port, 'hello\n')).toBe('');
    await expect.poll(() => p.lines().join('\n')).toMatch(/\[error\] js exception in js_set \$backend: Error: read timed out/);
  });

  test('a Promise that never settles: cut at timeout=, a clear error, the variable is ""', async () => {
    const p = await streamProxy(`js_set $slow main.slow timeout=150ms;
  server { listen 127.0.0.1:0; return "[$slow]\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('[]\n');
    expect(p.lines()).toContain('[error] js_set $slow: the Promise did not settle in 150ms, client: 127.0.0.1, server: 127.0.0.1:' + p.port);
  });

  test('a rejected Promise: "js exception" with the script position, the variable is ""', async () => {
    const p = await streamProxy(`js_set $v main.broken;
  server { listen 127.0.0.1:0; return "[$v]\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('[]\n');
    await expect.poll(() => p.lines().join('\n')).toMatch(/\[error\] js exception in js_set \$v: Error: no directory\\x0a +at broken \(.*stream-more\.js:\d+/);
  });
});

describe('js_preread over TCP: preread_buffer_size', () => {
  test('an upload handler still undecided when the buffer is full: nginx\'s "preread buffer full", the connection closed', async () => {
    const backend = await startRawBackend(() => {});
    const p = await streamProxy(`log_format st "$status";
  access_log DIR/access.log st;
  server { listen 127.0.0.1:0; preread_buffer_size 1k; js_preread udp.pre; proxy_pass 127.0.0.1:${backend.port}; }`);
    expect(await rawExchange(p.port, 'x'.repeat(4000))).toBe('');
    // nginx + njs: "*1 preread buffer full while prereading client data, client: 127.0.0.1, server: 127.0.0.1:PORT"
    await expect.poll(() => p.lines()).toContain(`[error] preread buffer full while prereading client data, client: 127.0.0.1, server: 127.0.0.1:${p.port}`);
    await expect.poll(() => fs.readFileSync(path.join(p.dir, 'access.log'), 'utf8')).toBe('400\n');
    expect(backend.received).toEqual([]);
  });
});

describe('s.sendDownstream() in a phase (nginx + njs 0.7.9)', () => {
  test('TCP and UDP: "js exception: Error: cannot send buffer in this handler", nothing sent, the session closed', async () => {
    const backend = await startRawBackend(() => {});
    const tcp = await streamProxy(`server { listen 127.0.0.1:0; js_access main.greet; proxy_pass 127.0.0.1:${backend.port}; }`);
    expect(await rawExchange(tcp.port, 'x')).toBe('');
    // njs: "js exception: Error: cannot send buffer in this handler" then "at Stream Session.sendDownstream (native)", "at greet (...)"
    await expect.poll(() => tcp.lines().join('\n')).toMatch(/\[error\] js exception: Error: cannot send buffer in this handler\\x0a +at greet \(.*stream-more\.js:\d+/);
    expect(backend.received).toEqual([]);

    const be = await echoBackend('reply');
    const udp = await streamProxy(`server { listen 127.0.0.1:0 udp; js_access main.greet; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(udp.port);
    c.send('one');
    await expect.poll(() => udp.lines().join('\n')).toContain('[error] js exception: Error: cannot send buffer in this handler\\x0a');
    c.send('two');
    await expect.poll(() => udp.lines().filter((l) => l.includes('cannot send buffer'))).toHaveLength(2);
    expect(c.received).toEqual([]);
    expect(be.heard).toEqual([]);
  });
});

describe('error-log lines of s.log and ngx.log (nginx + njs 0.7.9)', () => {
  test('"*N js: message", the session\'s connection number and no client or server after it', async () => {
    const p = await streamProxy(`server { listen 127.0.0.1:0; js_access main.logs; return "ok\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('ok\n');
    const raw = () => fs.readFileSync(path.join(p.dir, 'error.log'), 'utf8').split('\n').filter((l) => l.includes(' js: '));
    // nginx + njs 0.7.9 wrote, for the same config and script:
    //   2026/12/07 03:02:41 [info] 16600#16600: *1 js: slog
    //   2026/12/07 03:02:41 [warn] 16600#16600: *1 js: ngxlog stream
    await expect.poll(raw).toHaveLength(2);
    const [slog, ngxlog] = raw();
    expect(slog).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[info\] \d+#0: \*(\d+) js: s\.log 127\.0\.0\.1$/);
    expect(ngxlog).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[warn\] \d+#0: \*(\d+) js: ngx\.log in a handler$/);
    expect(/\*(\d+)/.exec(slog!)![1]).toBe(/\*(\d+)/.exec(ngxlog!)![1]);
  });
});

/**
 * UDP sessions (`listen ... udp`): what nginx 1.22 + njs 0.7.9 did with test/fixtures/njs/stream-udp.js
 * (checked with a local nginx, datagrams 200ms apart; its echo backend answered "reply:<text>").
 */
describe('stream scripts on UDP sessions (nginx + njs answers)', () => {
  test('js_preread: the upload handler gets the first datagram; no verdict on it is "preread buffer full" and the next datagram starts a new session', async () => {
    const be = await echoBackend('reply');
    const p = await streamProxy(`server { listen 127.0.0.1:0 udp; js_preread udp.pre; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    c.send('first');
    // nginx: "*1 preread buffer full while prereading client data, udp client: 127.0.0.1, server: 127.0.0.1:PORT"
    await expect.poll(() => p.lines()).toContain(`[error] preread buffer full while prereading client data, udp client: 127.0.0.1, server: 127.0.0.1:${p.port}`);
    c.send('second go');
    await expect.poll(() => c.received).toEqual(['reply:second go']);
    c.send('third');
    await expect.poll(() => c.received).toEqual(['reply:second go', 'reply:third']);
    expect(be.heard.map((h) => h.text)).toEqual(['second go', 'third']);
    // the upload handler saw each session's first datagram only, as a piece that is not the last
    expect(p.lines().filter((l) => l.includes(' js: '))).toEqual([
      '[info] js: upload len=5 last=false data="first"',
      '[info] js: upload len=9 last=false data="second go"',
    ]);
  });

  test('js_access decides on the first datagram; js_filter sends each datagram on as the handler gives it (twice, or not at all) and rewrites each answer', async () => {
    const be = await echoBackend('reply');
    const p = await streamProxy(`server { listen 127.0.0.1:0 udp; js_access udp.acc; js_filter udp.filt; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    c.send('a');
    await expect.poll(() => c.received).toEqual(['<reply:a-1>', '<reply:a-2>']);
    c.send('drop');
    c.send('b');
    await expect.poll(() => c.received).toEqual(['<reply:a-1>', '<reply:a-2>', '<reply:b-1>', '<reply:b-2>']);
    expect(be.heard.map((h) => h.text)).toEqual(['a-1', 'a-2', 'b-1', 'b-2']);
    expect(p.lines().filter((l) => l.includes(' js: ')).slice(0, 2)).toEqual(['[info] js: acc upload "a"', '[info] js: f-up "a" last=false']);
  });

  test('a function that gives no verdict ends the session: nothing is relayed', async () => {
    const be = await echoBackend('reply');
    const p = await streamProxy(`server { listen 127.0.0.1:0 udp; js_access udp.nov; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    c.send('x');
    await expect.poll(() => p.lines()).toContain('[info] js: no verdict');
    // the session ended: the client's next datagram starts another one, which runs the function again
    c.send('y');
    await expect.poll(() => p.lines().filter((l) => l === '[info] js: no verdict')).toHaveLength(2);
    expect(be.heard).toEqual([]);
    expect(c.received).toEqual([]);
  });
});
