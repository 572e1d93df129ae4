/**
 * HTTPS and HTTP/2 requests per second, tsproxy side by side with nginx and HAProxy (issue 8).
 * Same method as run.ts: the proxy pinned to CPU 0, the load generator and the backend on CPU 1,
 * 127.0.0.1 only, rounds interleaved in a rotated order, medians, ratios to nginx in this run.
 *
 *   npx tsx bench/tls.ts [--rounds 3] [--seconds 2] [--peers nginx,haproxy,tsproxy] [--tsproxy dist/cli.js]
 *
 * Scenarios (small 5-byte response from the raw-socket backend, upstream keep-alive):
 *   https keep-alive    wrk -t1 -c50 https://...  (TLS records only; handshakes amortised)
 *   https new conn      wrk -t1 -c50 -H "Connection: close": one TLS 1.3 handshake per request, on
 *     resumed           an address with session resumption on (ssl_session_cache shared:SSL:10m,
 *                       tickets on; HAProxy: its tickets). wrk keeps the session of a connection
 *                       and offers it on the next one (OpenSSL's SSL_clear keeps it), so a
 *                       server that sends a new ticket on every handshake resumes every one;
 *                       node's TLS sends none on a resumed TLS 1.3 handshake, and OpenSSL clients
 *                       use a TLS 1.3 ticket once, so tsproxy resumes every other one
 *     full              an address with resumption off (ssl_session_cache off; ssl_session_tickets
 *                       off; HAProxy: no-tls-tickets, tune.ssl.cachesize 0): every one a full handshake
 *   h2                  h2load -t1 -c10 -m5 (10 sessions x 5 concurrent streams: 50 in flight, as wrk -c50)
 * Every proxy gets a 1 s wrk, an 8 s wrk of new connections and a 1 s h2load warm-up after it
 * starts (the Node rows need JIT warm-up, the handshake path most: it runs once per connection).
 * Needs wrk and h2load (Debian nghttp2-client); installs them with apt-get when missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOOPBACK, firstLine, freePort, installTrap, run, start, stop, waitTcp } from './lib/procs.js';
import { median } from './lib/report.js';
import { buildTsproxy } from './lib/setup.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    peers: { type: 'string', default: 'nginx,haproxy,tsproxy' },
    tsproxy: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const ROOT = path.resolve(import.meta.dirname, '..');
const PROXY_CPU = '0';
const LOAD_CPU = '1';

interface Proxy {
  readonly id: string;
  readonly label: string;
  /** `port`: resumption on (every scenario but one); `fullPort`: resumption off (full handshakes). */
  launch(dir: string, port: number, fullPort: number, backend: number): Promise<() => Promise<void>>;
}

function ensureTools(): void {
  const missing = [['wrk', 'wrk'], ['h2load', 'nghttp2-client'], ['nginx', 'nginx'], ['haproxy', 'haproxy'], ['openssl', 'openssl']]
    .filter(([bin]) => spawnSync('which', [bin!]).status !== 0).map(([, pkg]) => pkg!);
  if (missing.length === 0) return;
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit' });
}

function makeCert(dir: string): { cert: string; key: string; pem: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const pem = path.join(dir, 'haproxy.pem');
  fs.writeFileSync(pem, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
  return { cert, key, pem };
}

/** The nginx-syntax config nginx and tsproxy both run (minus nginx-only lines). */
function nginxStyle(dir: string, port: number, fullPort: number, backend: number, nginx: boolean): string {
  const certs = { cert: path.join(dir, '..', 'cert.pem'), key: path.join(dir, '..', 'key.pem') };
  return `worker_processes 1;
${nginx ? 'daemon off;\n' : 'watch off;\n'}pid ${dir}/proxy.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
${nginx ? `    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n` : ''}    keepalive_requests 1000000;
    upstream backend { server ${LOOPBACK}:${backend}; keepalive 64; }
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen ${LOOPBACK}:${port} ssl http2;
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen ${LOOPBACK}:${fullPort} ssl http2;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
`;
}

async function readyTls(port: number, child: ReturnType<typeof start>): Promise<void> {
  await waitTcp(port, 10_000);
  if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
}

const PROXIES: readonly Proxy[] = [
  {
    id: 'nginx', label: 'nginx',
    async launch(dir, port, fullPort, backend) {
      fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxStyle(dir, port, fullPort, backend, true));
      const child = start('nginx', ['-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf')], { cpus: PROXY_CPU });
      await readyTls(port, child);
      return () => stop(child, 'SIGTERM', 3000);
    },
  },
  {
    id: 'haproxy', label: 'HAProxy',
    async launch(dir, port, fullPort, backend) {
      // The session cache is global in HAProxy: off, so the resumed address resumes by tickets.
      fs.writeFileSync(path.join(dir, 'haproxy.cfg'), `global
    nbthread 1
    tune.ssl.cachesize 0
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind ${LOOPBACK}:${port} ssl crt ${path.join(dir, '..', 'haproxy.pem')} alpn h2,http/1.1
    bind ${LOOPBACK}:${fullPort} ssl crt ${path.join(dir, '..', 'haproxy.pem')} alpn h2,http/1.1 no-tls-tickets
    default_backend be
backend be
    server s1 ${LOOPBACK}:${backend}
`);
      const child = start('haproxy', ['-f', path.join(dir, 'haproxy.cfg')], { cpus: PROXY_CPU });
      await readyTls(port, child);
      return () => stop(child, 'SIGTERM', 3000);
    },
  },
  {
    id: 'tsproxy', label: 'tsproxy',
    async launch(dir, port, fullPort, backend) {
      fs.writeFileSync(path.join(dir, 'tsproxy.conf'), nginxStyle(dir, port, fullPort, backend, false));
      const cli = values.tsproxy ?? tsproxyCli();
      const child = start(process.execPath, [cli, '-c', path.join(dir, 'tsproxy.conf')], { cpus: PROXY_CPU, cwd: ROOT });
      await readyTls(port, child);
      return () => stop(child, 'SIGTERM', 3000);
    },
  },
];

let builtCli: string | null = null;
function tsproxyCli(): string {
  if (builtCli !== null) return builtCli;
  const r = buildTsproxy(ROOT, path.join(ROOT, 'bench/.deps'));
  if ('error' in r) throw new Error(r.error);
  return (builtCli = r.cli);
}

interface Scenario {
  readonly id: string;
  readonly label: string;
  /** `port` resumes sessions, `fullPort` does not. */
  measure(port: number, fullPort: number): Promise<number>;
}

function handshakes(port: number): Promise<number> {
  return run('wrk', ['-t1', '-c50', `-d${SECONDS}s`, '-H', 'Connection: close', `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: (SECONDS + 20) * 1000 })
    .then((r) => wrkRps(r.stdout));
}

function wrkRps(out: string): number {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`no wrk result: ${out.slice(-200)}`);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors !== null && Number(errors[1]) > 0) throw new Error(`${errors[1]} non-2xx responses`);
  return Number(m[1]);
}

const SCENARIOS: readonly Scenario[] = [
  {
    id: 'https', label: 'HTTPS keep-alive req/s',
    async measure(port) {
      const r = await run('wrk', ['-t1', '-c50', `-d${SECONDS}s`, `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: (SECONDS + 20) * 1000 });
      return wrkRps(r.stdout);
    },
  },
  { id: 'handshake', label: 'HTTPS new connection, resumption on, req/s', measure: (port) => handshakes(port) },
  { id: 'handshake-full', label: 'HTTPS new connection, resumption off, req/s', measure: (_port, fullPort) => handshakes(fullPort) },
  {
    id: 'h2', label: 'HTTP/2 req/s',
    async measure(port) {
      const r = await run('h2load', ['-t1', '-c10', '-m5', '-D', String(SECONDS), `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: (SECONDS + 20) * 1000 });
      const m = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.stdout);
      const ok = /status codes: (\d+) 2xx/.exec(r.stdout);
      const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(r.stdout);
      if (m === null || ok === null) throw new Error(`no h2load result: ${(r.stdout + r.stderr).slice(-300)}`);
      if (done !== null && done[1] !== done[2]) throw new Error(`h2load: ${done[1]} done but ${done[2]} succeeded`);
      if (/h2/.test(r.stdout) === false) throw new Error('h2load did not negotiate h2');
      return Number(m[1]);
    },
  },
];

async function main(): Promise<void> {
  installTrap();
  ensureTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-tls-'));
  makeCert(dir);
  const backendProc = start(process.execPath, [path.join(ROOT, 'bench/procs/backend.mjs')], { cpus: LOAD_CPU, cwd: ROOT });
  const backend = (JSON.parse(await firstLine(backendProc, 10_000)) as { http: number }).http;
  const wanted = values.peers.split(',');
  const proxies = PROXIES.filter((p) => wanted.includes(p.id));
  const results = new Map<string, number[]>();
  const failures = new Map<string, string>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < proxies.length; i++) {
      const p = proxies[(i + round) % proxies.length]!;
      const pdir = path.join(dir, `${p.id}-${round}`);
      fs.mkdirSync(pdir);
      const port = await freePort();
      let fullPort = await freePort();
      while (fullPort === port) fullPort = await freePort();
      let stopProxy: (() => Promise<void>) | null = null;
      try {
        stopProxy = await p.launch(pdir, port, fullPort, backend);
        // Warm-up (JIT for the Node rows, session caches for all): not measured. The handshake
        // path runs once per connection, so Node's JIT needs thousands of connections to optimise
        // it (HACKING "HTTPS CPU per request": CPU per handshake settles after 10-15 s): 8 s of new connections.
        await run('wrk', ['-t1', '-c10', '-d1s', `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: 20_000 });
        await run('wrk', ['-t1', '-c50', '-d8s', '-H', 'Connection: close', `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: 40_000 });
        await run('h2load', ['-t1', '-c2', '-m10', '-D', '1', `https://${LOOPBACK}:${port}/small`], { cpus: LOAD_CPU, timeoutMs: 20_000 });
        for (const s of SCENARIOS) {
          const key = `${p.id}/${s.id}`;
          try {
            const v = await s.measure(port, fullPort);
            results.set(key, [...(results.get(key) ?? []), v]);
            process.stderr.write(`round ${round + 1} ${key}: ${v.toFixed(0)}\n`);
          } catch (e) {
            failures.set(key, (e as Error).message.split('\n')[0]!);
          }
        }
      } catch (e) {
        for (const s of SCENARIOS) failures.set(`${p.id}/${s.id}`, `start failed: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        await stopProxy?.();
      }
    }
  }
  await stop(backendProc, 'SIGTERM', 2000);
  const header = `| proxy | ${SCENARIOS.map((s) => s.label).join(' | ')} |\n|---|${SCENARIOS.map(() => '---:').join('|')}|`;
  const rows = proxies.map((p) => {
    const cells = SCENARIOS.map((s) => {
      const v = results.get(`${p.id}/${s.id}`);
      if (v === undefined || v.length === 0) return `n/a (${failures.get(`${p.id}/${s.id}`) ?? 'no result'})`;
      const ref = results.get(`nginx/${s.id}`);
      const m = median(v);
      return ref !== undefined && ref.length > 0 ? `${Math.round(m).toLocaleString('en-US')} (${(m / median(ref)).toFixed(2)})` : Math.round(m).toLocaleString('en-US');
    });
    return `| ${p.label} | ${cells.join(' | ')} |`;
  });
  process.stdout.write(`\n${new Date().toISOString()}  node ${process.version}  rounds ${ROUNDS} x ${SECONDS}s, proxy on CPU ${PROXY_CPU}, load + backend on CPU ${LOAD_CPU}\n`);
  process.stdout.write(`${header}\n${rows.join('\n')}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
