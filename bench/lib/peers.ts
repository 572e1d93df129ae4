/**
 * The rows of the benchmark table: each proxy with an equivalent config (1 worker, keep-alive to
 * the backend with a pool of 64, no access log), started pinned to the proxy core. Each row starts,
 * fails and restarts on its own, so one broken proxy prints "n/a (reason)" and the rest still run.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, firstLine, freePort, start, stop, tail, waitHttp, waitTcp, processTree, LOOPBACK } from './procs.js';

export interface Backends {
  http: number;
  ws: number;
  tcp: number;
}

export interface BenchContext {
  root: string;
  /** Scratch directory for configs, pid files and logs of this run. */
  work: string;
  /** bench/.deps: node-http-proxy and http-proxy-3 are installed here, not in the project. */
  deps: string;
  tsproxyCli: string;
  backends: Backends;
  proxyCpus: string;
  nofile: number;
  /** Directory for `node --cpu-prof` profiles of the tsproxy row, or null. */
  cpuProfDir: string | null;
}

/** What a started row listens on. */
export interface Endpoint {
  http: number;
  /** Raw TCP proxy port, null when the row has none. */
  tcp: number | null;
  /** Process tree to measure, null when there is no proxy process (backend direct). */
  pids: (() => number[]) | null;
  /**
   * Rewrites the config (serving "generation N" at /gen, so every reload is a real change) and
   * tells the proxy to reload it; null when the row cannot reload.
   */
  reload: ((generation: number) => void) | null;
}

interface Launched {
  child: ChildProcess;
  http: number;
  tcp: number | null;
  reload?: (generation: number) => void;
}

/** Variations of a row's setup (the worker-scaling scenario; defaults: 1 worker on the proxy CPU). */
export interface LaunchOptions {
  /** worker_processes (nginx, tsproxy) / nbthread (HAProxy; `auto`: no nbthread line, its default is one thread per CPU). */
  workers?: number | 'auto';
  /** taskset CPU list of the proxy. */
  cpus?: string;
}

/** An extra instance of a row, started and stopped by a scenario itself. */
export interface Instance {
  endpoint: Endpoint;
  stop(): Promise<void>;
}

export interface PeerSpec {
  id: string;
  label: string;
  /** Proxies WebSocket upgrades at /ws. */
  ws: boolean;
  /** Has a raw TCP proxy. */
  tcp: boolean;
  /** Answers by itself (the bare node:http server): no WebSocket or TCP, not a proxy. */
  server?: boolean;
  /** Scenarios where this row is not meaningful. */
  skip?: readonly string[];
  /** Accepts LaunchOptions.workers (the worker-scaling scenario). */
  workers?: boolean;
  launch(ctx: BenchContext, opts?: LaunchOptions): Promise<Launched>;
}

const START_TIMEOUT_MS = 15_000;

export class Peer {
  readonly spec: PeerSpec;
  #ctx: BenchContext;
  #launched: Launched | null = null;
  #direct: boolean;
  /** Why the row could not start; every scenario prints it. */
  error: string | null = null;

  constructor(spec: PeerSpec, ctx: BenchContext, direct = false) {
    this.spec = spec;
    this.#ctx = ctx;
    this.#direct = direct;
  }

  get id(): string {
    return this.spec.id;
  }

  get endpoint(): Endpoint {
    const { backends } = this.#ctx;
    if (this.#direct) return { http: backends.http, tcp: backends.tcp, pids: null, reload: null };
    const l = this.#launched;
    if (l === null) throw new Error(this.error ?? 'not started');
    return endpointOf(l);
  }

  /** Starts one more instance of this row (own ports, own config) that the caller stops. */
  async instance(opts: LaunchOptions = {}): Promise<Instance> {
    if (this.#direct) throw new Error('the direct row has no process');
    const l = await this.spec.launch(this.#ctx, opts);
    return { endpoint: endpointOf(l), stop: () => stop(l.child, 'SIGTERM', 3000) };
  }

  /** The port a WebSocket client connects to (the backend itself for the direct row). */
  get wsPort(): number {
    return this.#direct ? this.#ctx.backends.ws : this.endpoint.http;
  }

  async start(): Promise<boolean> {
    if (this.#direct) return true;
    try {
      this.#launched = await this.spec.launch(this.#ctx);
      this.error = null;
      return true;
    } catch (err) {
      this.error = `start failed: ${err instanceof Error ? err.message : String(err)}`.replace(/\s+/g, ' ');
      this.#launched = null;
      return false;
    }
  }

  async stop(): Promise<void> {
    const l = this.#launched;
    this.#launched = null;
    if (l !== null) await stop(l.child, 'SIGTERM', 3000);
  }

  /** Restarts a row that died mid-run (or on request, for a fresh-process measurement). */
  async ensure(fresh = false): Promise<void> {
    if (this.#direct) return;
    if (!fresh && this.#launched !== null && alive(this.#launched.child)) return;
    await this.stop();
    if (!(await this.start())) throw new Error(this.error ?? 'start failed');
  }
}

function endpointOf(l: Launched): Endpoint {
  const pid = l.child.pid!;
  return { http: l.http, tcp: l.tcp, pids: () => processTree(pid), reload: l.reload ?? null };
}

// ---- launchers ---------------------------------------------------------------------------------

async function untilReady(child: ChildProcess, http: number, tcp: number | null): Promise<Launched> {
  const output = tail(child);
  try {
    await waitHttp(http, '/small', START_TIMEOUT_MS, child);
    if (tcp !== null) await waitTcp(tcp, START_TIMEOUT_MS);
  } catch (err) {
    await stop(child, 'SIGKILL', 100);
    throw new Error(`${err instanceof Error ? err.message : String(err)} ${output().split('\n').slice(-3).join(' ')}`);
  }
  return { child, http, tcp };
}

/**
 * The nginx-syntax config shared by nginx and tsproxy, so both run the same file modulo the lines
 * only nginx needs (module loading, temp paths).
 */
export function nginxStyleConfig(o: {
  dir: string;
  http: number;
  tcp: number;
  backends: Backends;
  nofile: number;
  nginx: boolean;
  workers?: number | 'auto';
  /** Served at /gen; a reload scenario bumps it so each reload is a real config change. */
  generation?: number;
}): string {
  const d = o.dir;
  const b = o.backends;
  const nginxOnly = (s: string) => (o.nginx ? s : '');
  // tsproxy watches its config files by default; the benchmark reloads it by signal only, as nginx.
  const tsproxyOnly = (s: string) => (o.nginx ? '' : s);
  return `${nginxOnly('load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n')}worker_processes ${o.workers ?? 1};
${nginxOnly(`worker_rlimit_nofile ${o.nofile};\ndaemon off;\n`)}${tsproxyOnly('watch off;\n')}pid ${d}/proxy.pid;
error_log ${d}/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
${nginxOnly(`    client_body_temp_path ${d}/body;\n    proxy_temp_path ${d}/proxy;\n    fastcgi_temp_path ${d}/fastcgi;\n    uwsgi_temp_path ${d}/uwsgi;\n    scgi_temp_path ${d}/scgi;\n`)}    keepalive_requests 1000000;
    upstream backend {
        server ${LOOPBACK}:${b.http};
        keepalive 64;
    }
    upstream wsbackend {
        server ${LOOPBACK}:${b.ws};
    }
    server {
        listen ${LOOPBACK}:${o.http};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /ws {
            proxy_pass http://wsbackend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }
        location = /gen {
            return 200 "generation ${o.generation ?? 0}";
        }
    }
}
stream {
    server {
        listen ${LOOPBACK}:${o.tcp};
        proxy_pass ${LOOPBACK}:${b.tcp};
    }
}
`;
}

export function haproxyConfig(o: { http: number; tcp: number; backends: Backends; nofile: number; threads?: number | 'auto'; generation?: number }): string {
  const b = o.backends;
  return `global
${o.threads === 'auto' ? '' : `    nbthread ${o.threads ?? 1}\n`}    maxconn ${Math.floor(o.nofile / 2) - 100}

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 3600s
    timeout server 3600s
    timeout tunnel 3600s

frontend web
    bind ${LOOPBACK}:${o.http}
    http-request return status 200 content-type text/plain string "generation ${o.generation ?? 0}" if { path /gen }
    use_backend wsbackend if { path_beg /ws }
    default_backend backend

backend backend
    server b1 ${LOOPBACK}:${b.http}

backend wsbackend
    server w1 ${LOOPBACK}:${b.ws}

frontend raw
    mode tcp
    bind ${LOOPBACK}:${o.tcp}
    default_backend rawbackend

backend rawbackend
    mode tcp
    server t1 ${LOOPBACK}:${b.tcp}
`;
}

function rowDir(ctx: BenchContext, id: string): string {
  const dir = path.join(ctx.work, id);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Sends `signal` to the row's main process (the child is the proxy itself: `exec taskset`). */
function signalReload(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!alive(child)) throw new Error('the proxy is not running');
  child.kill(signal);
}

let instances = 0;

async function launchNginx(ctx: BenchContext, opts: LaunchOptions = {}): Promise<Launched> {
  const dir = rowDir(ctx, `nginx-${instances++}`);
  const [http, tcp] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'nginx.conf');
  const write = (generation: number) =>
    fs.writeFileSync(conf, nginxStyleConfig({ dir, http, tcp, backends: ctx.backends, nofile: ctx.nofile, nginx: true, workers: opts.workers, generation }));
  write(0);
  const child = start('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { cpus: opts.cpus ?? ctx.proxyCpus, nofile: ctx.nofile });
  const l = await untilReady(child, http, tcp);
  // SIGHUP = `nginx -s reload`: new workers with the new config, old ones finish gracefully.
  return { ...l, reload: (g) => (write(g), signalReload(child, 'SIGHUP')) };
}

async function launchHaproxy(ctx: BenchContext, opts: LaunchOptions = {}): Promise<Launched> {
  const dir = rowDir(ctx, `haproxy-${instances++}`);
  const [http, tcp] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'haproxy.cfg');
  const write = (generation: number) =>
    fs.writeFileSync(conf, haproxyConfig({ http, tcp, backends: ctx.backends, nofile: ctx.nofile, threads: opts.workers, generation }));
  write(0);
  // Master-worker mode (-W), so SIGUSR2 reloads: the master re-executes itself with the new
  // config and the old worker finishes its connections (the haproxy -sf handover, built in).
  const child = start('haproxy', ['-W', '-db', '-f', conf], { cpus: opts.cpus ?? ctx.proxyCpus, nofile: ctx.nofile });
  const l = await untilReady(child, http, tcp);
  return { ...l, reload: (g) => (write(g), signalReload(child, 'SIGUSR2')) };
}

async function launchTsproxy(ctx: BenchContext, opts: LaunchOptions = {}): Promise<Launched> {
  const dir = rowDir(ctx, `tsproxy-${instances++}`);
  const [http, tcp] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'tsproxy.conf');
  const write = (generation: number) =>
    fs.writeFileSync(conf, nginxStyleConfig({ dir, http, tcp, backends: ctx.backends, nofile: ctx.nofile, nginx: false, workers: opts.workers, generation }));
  write(0);
  const prof = ctx.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`];
  const child = start('node', [...prof, ctx.tsproxyCli, '-p', dir, '-c', conf], { cpus: opts.cpus ?? ctx.proxyCpus, nofile: ctx.nofile, env: { ...process.env, NODE_ENV: 'production' } });
  const l = await untilReady(child, http, tcp);
  return { ...l, reload: (g) => (write(g), signalReload(child, 'SIGHUP')) };
}

function nodeLauncher(impl: string): (ctx: BenchContext) => Promise<Launched> {
  return async (ctx) => {
    const b = ctx.backends;
    const script = path.join(ctx.root, 'bench/procs/node-proxy.mjs');
    const child = start('node', [script, impl, ctx.deps, String(b.http), String(b.ws), String(b.tcp)], { cpus: ctx.proxyCpus, nofile: ctx.nofile });
    const ports = JSON.parse(await firstLine(child, START_TIMEOUT_MS)) as { http: number; tcp: number };
    return untilReady(child, ports.http, ports.tcp === 0 ? null : ports.tcp);
  };
}

export const DIRECT: PeerSpec = {
  id: 'direct',
  label: 'no proxy (backend direct)',
  ws: true,
  tcp: true,
  launch: () => Promise.reject(new Error('the direct row has no process')),
};

export const PEERS: readonly PeerSpec[] = [
  { id: 'nginx', label: 'nginx', ws: true, tcp: true, workers: true, launch: launchNginx },
  { id: 'haproxy', label: 'HAProxy', ws: true, tcp: true, workers: true, skip: ['configtest'], launch: launchHaproxy },
  { id: 'tsproxy', label: 'tsproxy', ws: true, tcp: true, workers: true, launch: launchTsproxy },
  { id: 'node-http-proxy', label: 'node-http-proxy 1.18.1', ws: true, tcp: false, skip: ['configtest'], launch: nodeLauncher('http-proxy') },
  { id: 'http-proxy-3', label: 'http-proxy-3 1.23.3', ws: true, tcp: false, skip: ['configtest'], launch: nodeLauncher('http-proxy-3') },
  { id: 'node-minimal', label: 'minimal node:http proxy', ws: true, tcp: true, skip: ['configtest'], launch: nodeLauncher('minimal') },
  { id: 'node-hello', label: 'bare node:http server (no proxying)', ws: false, tcp: false, server: true, skip: ['configtest'], launch: nodeLauncher('hello') },
];
