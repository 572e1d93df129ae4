/**
 * Reload triggers, signals and graceful stop through the real command line (signals need a process).
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startCli, tempDir, freePort, logRecords, type RunningCli } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backend.js';

/** A free port: bound and released (tsproxy is told a fixed port so reloads keep it). */
const count = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg).length;

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const bodyOf = (port: number, p: string) => get(port, p).then((r) => `${r.status} ${r.body}`, (e: Error) => e.message);

async function started(run: RunningCli): Promise<void> {
  await expect.poll(() => count(run, 'tsproxy started'), { timeout: 20_000 }).toBe(1);
}

/** Write by rename, as many editors do. */
function writeByRename(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

describe('reload triggers', () => {
  test('a changed include, a file written by rename and a NEW file in an include glob directory each reload', async () => {
    const dir = tempDir();
    const port = await freePort();
    fs.mkdirSync(path.join(dir, 'conf.d'));
    fs.writeFileSync(path.join(dir, 'main.conf'), `error_log stderr info;\npid off;\nhttp { server { listen 127.0.0.1:${port}; include conf.d/*.conf; } }\n`);
    fs.writeFileSync(path.join(dir, 'conf.d/a.conf'), 'location / { return 200 "one"; }\n');
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await started(run);
    expect(await bodyOf(port, '/')).toBe('200 one');

    writeByRename(path.join(dir, 'conf.d/a.conf'), 'location / { return 200 "two"; }\n');
    await expect.poll(() => bodyOf(port, '/'), { timeout: 10_000 }).toBe('200 two');

    fs.writeFileSync(path.join(dir, 'conf.d/b.conf'), 'location /b { return 200 "bee"; }\n');
    await expect.poll(() => bodyOf(port, '/b'), { timeout: 10_000 }).toBe('200 bee');
    // A file the glob does not name is no reason to reload.
    const reloads = count(run, 'configuration reloaded');
    fs.writeFileSync(path.join(dir, 'conf.d/notes.txt'), 'hello\n');
    // A comment-only change keeps the hash: logged as a no-op.
    fs.appendFileSync(path.join(dir, 'conf.d/b.conf'), '# a comment\n');
    await expect.poll(() => count(run, 'configuration unchanged, nothing to reload'), { timeout: 10_000 }).toBe(1);
    expect(count(run, 'configuration reloaded')).toBe(reloads);
    const reasons = logRecords(run).filter((r) => r.msg === 'configuration reloaded').map((r) => String(r.reason));
    expect(reasons.some((r) => r.includes('notes.txt'))).toBe(false);
  }, 60_000);

  test('-g "watch off;": file changes are ignored, SIGHUP reloads', async () => {
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'main.conf');
    const write = (text: string) =>
      fs.writeFileSync(conf, `error_log stderr info;\npid off;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "${text}"; } } }\n`);
    write('one');
    const run = startCli(['-c', conf, '-g', 'watch off;']);
    await started(run);
    write('two');
    run.child.kill('SIGHUP');
    await expect.poll(() => bodyOf(port, '/'), { timeout: 10_000 }).toBe('200 two');
    write('three');
    run.child.kill('SIGHUP');
    await expect.poll(() => bodyOf(port, '/'), { timeout: 10_000 }).toBe('200 three');
    const reasons = logRecords(run).filter((r) => r.msg === 'configuration reloaded').map((r) => String(r.reason));
    expect(reasons).toEqual(['SIGHUP', 'SIGHUP']);
  }, 60_000);
});

describe('signals and graceful stop', () => {
  test('SIGQUIT: new connections are refused while a slow in-flight request completes with 200, then exit 0', async () => {
    const dir = tempDir();
    const port = await freePort();
    const slow = await startHttpBackend('slow', (_req, res) => {
      setTimeout(() => res.end('finally'), 1000);
    });
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `error_log stderr info;\npid off;\nworker_shutdown_timeout 10s;\nhttp { server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:${slow.port}; } } }\n`);
    const run = startCli(['-c', conf]);
    await started(run);
    const inflight = get(port, '/slow');
    await expect.poll(() => slow.requests, { timeout: 10_000 }).toBe(1);
    run.child.kill('SIGQUIT');
    await expect.poll(() => bodyOf(port, '/new'), { timeout: 5_000 }).toContain('ECONNREFUSED');
    expect(await inflight).toEqual({ status: 200, body: 'finally' });
    expect(await run.exited).toBe(0);
  }, 60_000);

  test('SIGUSR1 reopens the access log: after a move, new lines go to a fresh file at the original path', async () => {
    const dir = tempDir();
    const port = await freePort();
    const log = path.join(dir, 'access.log');
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `error_log stderr info;\npid off;\nhttp { log_format p "$request_uri"; server { listen 127.0.0.1:${port}; access_log ${log} p; location / { return 200 "ok"; } } }\n`);
    const run = startCli(['-c', conf]);
    await started(run);
    expect(await bodyOf(port, '/before')).toBe('200 ok');
    await expect.poll(() => fs.existsSync(log)).toBe(true);
    fs.renameSync(log, `${log}.1`);
    run.child.kill('SIGUSR1');
    await expect.poll(() => count(run, 'log files reopened'), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => fs.existsSync(log)).toBe(true);
    expect(await bodyOf(port, '/after')).toBe('200 ok');
    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
    expect(fs.readFileSync(`${log}.1`, 'utf8')).toBe('/before\n');
    expect(fs.readFileSync(log, 'utf8')).toBe('/after\n');
  }, 60_000);

  test('SIGTERM is a fast stop: an open WebSocket is cut, exit 0', async () => {
    const dir = tempDir();
    const port = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    onTestFinished(() => new Promise<void>((r) => wss.close(() => r())));
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `error_log stderr info;\npid off;\nhttp { server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:${(wss.address() as net.AddressInfo).port}; } } }\n`);
    const run = startCli(['-c', conf]);
    await started(run);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on('error', () => {});
    onTestFinished(() => ws.terminate());
    await new Promise((r) => ws.once('open', r));
    let closed = false;
    ws.on('close', () => (closed = true));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    await expect.poll(() => closed).toBe(true);
  }, 60_000);
});

describe('WebSockets across reloads', () => {
  test('a WebSocket on an unchanged route survives 5 reloads (file change and SIGHUP alternating); a removed route gets 1001', async () => {
    const dir = tempDir();
    const port = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
    onTestFinished(() => {
      for (const c of wss.clients) c.terminate();
      return new Promise<void>((r) => wss.close(() => r()));
    });
    const wsPort = (wss.address() as net.AddressInfo).port;
    const conf = path.join(dir, 'main.conf');
    const write = (n: number, withGone: boolean) =>
      fs.writeFileSync(
        conf,
        `error_log stderr info;\npid off;\nstream_close_delay 300ms;\nhttp { server { listen 127.0.0.1:${port};
          location /chat { proxy_pass http://127.0.0.1:${wsPort}; }
          ${withGone ? `location /gone { proxy_pass http://127.0.0.1:${wsPort}; }` : ''}
          location /version { return 200 "v${n}"; } } }\n`,
      );
    write(0, true);
    const run = startCli(['-c', conf]);
    await started(run);

    const open = async (p: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`);
      ws.on('error', () => {});
      onTestFinished(() => ws.terminate());
      await new Promise((r) => ws.once('open', r));
      return ws;
    };
    const chat = await open('/chat');
    const gone = await open('/gone');
    let chatClosed = false;
    chat.on('close', () => (chatClosed = true));
    let goneCode = 0;
    gone.on('close', (code) => (goneCode = code));
    const echo = (text: string) =>
      new Promise<string>((resolve) => {
        chat.once('message', (m) => resolve(m.toString()));
        chat.send(text);
      });

    for (let i = 1; i <= 5; i++) {
      write(i, false);
      if (i % 2 === 0) run.child.kill('SIGHUP');
      await expect.poll(() => bodyOf(port, '/version'), { timeout: 10_000 }).toBe(`200 v${i}`);
      expect(await echo(`m${i}`)).toBe(`echo m${i}`);
      if (i === 1) await expect.poll(() => goneCode, { timeout: 5_000 }).toBe(1001);
    }
    expect(chatClosed).toBe(false);
    expect(logRecords(run).some((r) => r.msg === 'configuration reloaded' && String(r.reason).includes('SIGHUP'))).toBe(true);
  }, 90_000);
});
