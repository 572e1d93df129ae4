/**
 * What a js_set costs on the hot path (issue 19: "a js_set that returns an upstream name from a
 * Map costs at most 10% of small-response throughput against a static proxy_pass"): nginx + njs
 * and tsproxy, each with the same two configs, side by side:
 *   static  `proxy_pass http://app;`
 *   js_set  `js_set $backend route.pick;` (a Map lookup of the Host) and `proxy_pass http://$backend;`
 * Backend: bench/procs/backend.mjs (raw sockets, 5-byte answers). One worker each, `keepalive 64`,
 * `access_log off`; the proxy on CPU 0 and wrk + backend on CPU 1 when taskset is there.
 * Rounds run the four rows round robin; the medians and the js_set / static ratio are printed.
 *
 *   npx tsx bench/js-set.ts [--seconds N] [--rounds N] [--tsproxy dist/cli.js]
 *
 * Needs nginx with njs (Debian: libnginx-mod-http-js) and wrk; `npm run build` for dist/cli.js.
 * Not a test and never run by the suite: the coordinator runs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const seconds = Number(option('--seconds', '5'));
const rounds = Number(option('--rounds', '3'));
const tsproxyCli = path.resolve(root, option('--tsproxy', 'dist/cli.js'));
const pinned = spawnSync('which', ['taskset']).status === 0;

/** Run pinned to `cpu` when taskset is there. */
function pin(cpu: string, cmd: string, args: string[]): [string, string[]] {
  return pinned ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

function wrk(port: number, secs: number, label = ''): number {
  const [cmd, args] = pin('1', 'wrk', ['-t1', '-c50', `-d${secs}s`, `http://127.0.0.1:${port}/small`]);
  const out = spawnSync(cmd, args, { encoding: 'utf8', timeout: (secs + 30) * 1000 });
  const failed = /Non-2xx or 3xx responses: (\d+)/.exec(out.stdout);
  if (failed !== null) process.stdout.write(`  ${label}: ${failed[0]}\n`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  return m === null ? 0 : Number(m[1]);
}

type Peer = 'nginx' | 'tsproxy';
type Variant = 'static' | 'js_set';

function config(peer: Peer, variant: Variant, dir: string, port: number, backendPort: number): string {
  const js = variant === 'js_set';
  const head = peer === 'nginx'
    ? `${js ? `load_module ${NJS_MODULE};\n` : ''}worker_processes 1; daemon off; pid ${dir}/proxy.pid; error_log ${dir}/error.log;\n`
    : `worker_processes 1; watch off; pid ${dir}/proxy.pid; error_log ${dir}/error.log;\n`;
  const temps = peer === 'nginx' ? `client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;` : '';
  return `${head}events { worker_connections 1024; }
http {
  access_log off; keepalive_requests 1000000; ${temps}
  ${js ? `js_import route from ${dir}/route.js;\n  js_set $backend route.pick;` : ''}
  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://${js ? '$backend' : 'app'}; }
  }
}
`;
}

/**
 * The script: the same file runs on nginx + njs and on tsproxy. njs 0.7.9 has no `Map`
 * ("ReferenceError: Map is not defined") nor destructuring, so where it lacks one the table is a
 * plain object (the same hash lookup); tsproxy runs the Map.
 */
function routeScript(port: number): string {
  return `const entries = [['127.0.0.1:${port}', 'app'], ['localhost:${port}', 'app']];
const table = typeof Map === 'function' ? new Map(entries) : null;
const object = {};
for (var i = 0; i < entries.length; i++) object[entries[i][0]] = entries[i][1];
function pick(r) { return (table !== null ? table.get(r.headersIn.host) : object[r.headersIn.host]) || 'app'; }
export default { pick };
`;
}

async function measure(peer: Peer, variant: Variant, backendPort: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsproxy-bench-js-${peer}-`));
  const port = await freePort();
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.writeFileSync(path.join(dir, 'route.js'), routeScript(port));
  fs.writeFileSync(path.join(dir, 'proxy.conf'), config(peer, variant, dir, port, backendPort));
  const [cmd, args] = peer === 'nginx'
    ? pin('0', 'nginx', ['-p', dir, '-c', path.join(dir, 'proxy.conf')])
    : pin('0', process.execPath, [tsproxyCli, '-p', dir, '-c', path.join(dir, 'proxy.conf')]);
  const proxy = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  try {
    await waitListening(port);
    wrk(port, Math.min(2, seconds), `${peer} ${variant} warm-up`); // JIT, pools
    return wrk(port, seconds, `${peer} ${variant}`);
  } finally {
    try {
      process.kill(-proxy.pid!, 'SIGQUIT');
    } catch {
      // gone already
    }
    await new Promise((r) => (proxy.exitCode !== null ? r(null) : proxy.once('exit', r)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  for (const need of ['wrk', 'nginx']) if (spawnSync('which', [need]).status !== 0) throw new Error(`${need} is not installed`);
  if (!fs.existsSync(NJS_MODULE)) throw new Error(`${NJS_MODULE} is missing (apt-get install libnginx-mod-http-js)`);
  if (!fs.existsSync(tsproxyCli)) throw new Error(`${tsproxyCli} is missing (npm run build)`);
  const [bcmd, bargs] = pin('1', process.execPath, [path.join(root, 'bench/procs/backend.mjs')]);
  const backend = spawn(bcmd, bargs, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  try {
    const { http: backendPort } = JSON.parse(await firstLine(backend)) as { http: number };
    const rows: [Peer, Variant][] = [['nginx', 'static'], ['nginx', 'js_set'], ['tsproxy', 'static'], ['tsproxy', 'js_set']];
    const results = new Map<string, number[]>(rows.map(([p, v]) => [`${p} ${v}`, []]));
    for (let round = 0; round < rounds; round++) {
      // rotated order each round: drift of the machine hits every row alike
      for (let i = 0; i < rows.length; i++) {
        const [peer, variant] = rows[(i + round) % rows.length]!;
        results.get(`${peer} ${variant}`)!.push(await measure(peer, variant, backendPort));
      }
    }
    process.stdout.write(`\n| proxy | static req/s | js_set req/s | js_set / static |\n|---|---|---|---|\n`);
    for (const peer of ['nginx', 'tsproxy'] as const) {
      const s = median(results.get(`${peer} static`)!);
      const j = median(results.get(`${peer} js_set`)!);
      process.stdout.write(`| ${peer} | ${s.toFixed(0)} | ${j.toFixed(0)} | ${s > 0 ? (j / s).toFixed(3) : '-'} |\n`);
    }
    process.stdout.write(`\n${rounds} round(s) of ${seconds}s, medians; ${pinned ? 'proxy on CPU 0, wrk and backend on CPU 1' : 'not pinned (no taskset)'}\n`);
  } finally {
    try {
      process.kill(-backend.pid!, 'SIGTERM');
    } catch {
      // gone already
    }
  }
}

await main();
