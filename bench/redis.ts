/**
 * Redis-fed upstreams (issue 17), not a test: a redis-server on a free port, a node:http backend
 * and tsproxy in separate processes, then
 *  1. requests per second through a Redis-fed group (`redis_peers`, Host fed.test) against a
 *     static group of the same backend (Host static.test), wrk -t1 -c50 keep-alive, the two
 *     alternated over `--rounds` rounds, medians and their ratio (target >= 0.95: the table is
 *     in memory, no Redis round trip per request);
 *  2. update latency: the time from sending `RPUSH` of a second backend (as redis-cli would, on a
 *     connection of its own) to the first request routed to it (a client asking back to back on a
 *     keep-alive connection), median and p99 over
 *     `--changes` changes (the backend is removed again between changes, not timed).
 *   npx tsx bench/redis.ts [--seconds N] [--rounds N] [--changes N]
 * Defaults: 5 s, 3 rounds, 100 changes. wrk and redis-server are Debian packages (apt-get install wrk redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { announcedPort } from './lib/procs.js';
import { serveInlineConfig } from './lib/inline-proxy.js';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const mode = process.argv[2];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

if (mode === '--backend') {
  const name = process.argv[3] ?? 'a';
  const server = http.createServer((_req, res) => {
    res.setHeader('x-backend', name);
    res.end('hello world\n');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as net.AddressInfo).port}\n`));
} else if (mode === '--proxy') {
  const [redisPort, backendPort] = [process.argv[3], process.argv[4]];
  const text = `
redis r { server 127.0.0.1:${redisPort}; }
http {
  upstream static { server 127.0.0.1:${backendPort}; keepalive 64; }
  upstream fed { redis_peers r key=frontend:$host; keepalive 64; }
  server { listen 127.0.0.1:0; server_name static.test; location / { proxy_pass http://static; } }
  server { listen 127.0.0.1:0; server_name fed.test; location / { proxy_pass http://fed; } }
}`;
  await serveInlineConfig(text, 'bench-redis.conf');
} else {
  await main();
}


function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function wrk(port: number, host: string, seconds: number): number {
  const out = spawnSync('wrk', ['-t1', '-c50', `-d${seconds}s`, '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out.stdout);
  if (errors) process.stdout.write(`  wrk (${host}): ${errors[0]}\n`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1] ?? 0);
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

/** A command on a raw connection to Redis (RESP), resolving with the reply line: no process start in the timings. */
function command(socket: net.Socket, ...args: string[]): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1').trim()));
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

/** One GET with Host fed.test on a keep-alive agent: the backend that answered. */
function ask(port: number, agent: http.Agent): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'fed.test' }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-backend'] ?? res.statusCode)));
    });
    req.on('error', () => resolve('error'));
  });
}

async function main(): Promise<void> {
  const seconds = option('seconds', 5);
  const rounds = option('rounds', 3);
  const changes = option('changes', 100);
  for (const tool of ['wrk', 'redis-server', 'redis-cli']) {
    if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is missing (apt-get install wrk redis-server)`);
  }
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-redis-'));
  const tsx = ['--import', 'tsx'];
  try {
    const redisPort = await freePort();
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--notify-keyspace-events', 'Klg'], { stdio: 'ignore' });
    children.push(redis);
    const backendA = spawn(process.execPath, [...tsx, self, '--backend', 'a'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const backendB = spawn(process.execPath, [...tsx, self, '--backend', 'b'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(backendA, backendB);
    const [a, b] = await Promise.all([announcedPort(backendA), announcedPort(backendB)]);
    for (let i = 0; i < 100 && cli(redisPort, 'ping') !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 50));
    cli(redisPort, 'rpush', 'frontend:fed.test', 'fed', `http://127.0.0.1:${a}`);
    const proxy = spawn(process.execPath, [...tsx, self, '--proxy', String(redisPort), String(a)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(proxy);
    const port = await announcedPort(proxy);

    // 1. throughput, the two groups alternated
    wrk(port, 'static.test', 1);
    wrk(port, 'fed.test', 1);
    const statics: number[] = [];
    const feds: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['static.test', 'fed.test'] : ['fed.test', 'static.test'];
      for (const host of order) (host === 'fed.test' ? feds : statics).push(wrk(port, host, seconds));
    }
    const s = median(statics);
    const f = median(feds);
    process.stdout.write(`static group     : ${s.toFixed(0)} req/s (median of ${rounds})\n`);
    process.stdout.write(`Redis-fed group  : ${f.toFixed(0)} req/s (median of ${rounds}); ${(f / s).toFixed(3)}x static (target >= 0.95)\n`);

    // 2. update latency: RPUSH b, then ask back to back until b answers
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const conn = net.connect({ host: '127.0.0.1', port: redisPort });
    await new Promise((r) => conn.once('connect', r));
    const latencies: number[] = [];
    const entryB = `http://127.0.0.1:${b}`;
    for (let i = 0; i < changes; i++) {
      const t0 = performance.now();
      await command(conn, 'RPUSH', 'frontend:fed.test', entryB);
      for (;;) {
        if ((await ask(port, agent)) === 'b') break;
        if (performance.now() - t0 > 5000) throw new Error('no request reached the new backend within 5 s');
      }
      latencies.push(performance.now() - t0);
      await command(conn, 'LREM', 'frontend:fed.test', '0', entryB);
      // wait until b is gone (not timed)
      for (let gone = 0; gone < 4;) gone = (await ask(port, agent)) === 'a' ? gone + 1 : 0;
    }
    agent.destroy();
    conn.destroy();
    process.stdout.write(`update latency   : median ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms over ${changes} changes (RPUSH sent to the first request routed to the new backend)\n`);
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGINT');
      await new Promise((r) => {
        const t = setTimeout(() => c.kill('SIGKILL'), 3000);
        c.once('exit', () => r(clearTimeout(t)));
      });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
