/**
 * Reload under load (not a test): steady keep-alive HTTP traffic and open WebSockets through a
 * tsproxy child process while its config is rewritten and reloaded RELOADS times, alternating a
 * file change (the watcher) and SIGHUP. Prints requests sent, non-2xx, connection errors,
 * WebSockets dropped and the reload latency distribution (trigger → 'configuration reloaded').
 * Target: zero failures. 127.0.0.1 only; bounded in count and time.
 *
 *   npx tsx bench/reload.ts [--reloads 50] [--conns 8] [--ws 20] [--workers 1]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: { reloads: { type: 'string', default: '50' }, conns: { type: 'string', default: '8' }, ws: { type: 'string', default: '20' }, workers: { type: 'string', default: '1' } },
});
const RELOADS = Number(values.reloads);
const CONNS = Number(values.conns);
const WEBSOCKETS = Number(values.ws);
const WORKERS = Number(values.workers);
const DEADLINE_MS = 180_000;
const ROOT = path.resolve(import.meta.dirname, '..');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-reload-'));
  const backend = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  const wsPort = (wss.address() as net.AddressInfo).port;
  const port = await freePort();
  const conf = path.join(dir, 'tsproxy.conf');
  const write = (n: number) =>
    fs.writeFileSync(
      conf,
      `error_log stderr info;\npid off;\nworker_processes ${WORKERS};\nhttp { upstream app { server 127.0.0.1:${backendPort}; keepalive 32; }
      server { listen 127.0.0.1:${port}; access_log off;
        location / { proxy_pass http://app; }
        location /ws { proxy_pass http://127.0.0.1:${wsPort}; }
        location /gen { return 200 "generation ${n}"; } } }\n`,
    );
  write(0);

  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), '-c', conf], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let buffered = '';
  const reloadedAt: number[] = [];
  let started = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.includes('"tsproxy started"')) started = true;
      if (line.includes('"configuration reloaded"') || line.includes('reload failed')) reloadedAt.push(performance.now());
      if (line.includes('reload failed')) process.stderr.write(`${line}\n`);
    }
  });
  const until = async (cond: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => started, 30_000);

  // Open WebSockets.
  let wsDropped = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < WEBSOCKETS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.on('error', () => {});
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    ws.on('close', () => wsDropped++);
    sockets.push(ws);
  }

  // Steady keep-alive load until the reloads are done.
  let sent = 0;
  let non2xx = 0;
  let connErrors = 0;
  let running = true;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS });
  const worker = async () => {
    while (running) {
      sent++;
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) non2xx++;
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => {
          connErrors++;
          resolve();
        });
      });
    }
  };
  const workers = Array.from({ length: CONNS }, worker);

  const latencies: number[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  for (let i = 1; i <= RELOADS && Date.now() < deadline; i++) {
    const before = reloadedAt.length;
    write(i);
    const t0 = performance.now();
    if (i % 2 === 0) child.kill('SIGHUP');
    await until(() => reloadedAt.length > before, 20_000);
    latencies.push(reloadedAt[before]! - t0);
    // WebSockets must still echo after every reload.
    await Promise.all(
      sockets.map((ws) => new Promise<void>((r) => (ws.once('message', () => r()), ws.send('ping')))),
    );
  }
  running = false;
  await Promise.all(workers);
  const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(0);
  console.log(`worker processes:   ${WORKERS}`);
  console.log(`reloads:            ${latencies.length} (alternating file change / SIGHUP)`);
  console.log(`requests sent:      ${sent} over ${CONNS} keep-alive connections`);
  console.log(`non-2xx:            ${non2xx}`);
  console.log(`connection errors:  ${connErrors}`);
  console.log(`websockets dropped: ${wsDropped} of ${WEBSOCKETS} (${stillOpen} still open)`);
  console.log(`reload latency ms:  min ${pct(0)} p50 ${pct(50)} p90 ${pct(90)} p99 ${pct(99)} max ${pct(100)} (trigger → 'configuration reloaded', incl. 100 ms debounce)`);

  for (const ws of sockets) ws.terminate();
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  backend.closeAllConnections();
  backend.close();
  wss.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = non2xx + connErrors + wsDropped === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
