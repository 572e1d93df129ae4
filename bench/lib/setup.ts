/**
 * What the benchmark needs before it starts: Debian packages (nginx with the stream module,
 * HAProxy, wrk), the Node peers in bench/.deps (never the project's package.json), a build of
 * tsproxy in a scratch directory (so a run never overwrites dist/ under someone else), and the
 * description of the machine for the report header.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const APT_PACKAGES: Record<string, string> = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk', taskset: 'util-linux' };
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
export const NPM_PEERS = { 'http-proxy': '1.18.1', 'http-proxy-3': '1.23.3' } as const;

function has(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

export function ensureSystemPackages(): void {
  const missing = Object.entries(APT_PACKAGES)
    .filter(([cmd]) => !has(cmd))
    .map(([, pkg]) => pkg);
  if (!fs.existsSync(STREAM_MODULE)) missing.push('libnginx-mod-stream');
  if (missing.length === 0) return;
  say(`installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) =>
    process.getuid?.() === 0 ? execFileSync('apt-get', args, { stdio: 'inherit', env }) : execFileSync('sudo', ['apt-get', ...args], { stdio: 'inherit', env });
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', ...missing]);
  // Debian starts the services on install; the benchmark runs its own instances.
  for (const svc of ['nginx', 'haproxy']) spawnSync('bash', ['-c', `command -v systemctl >/dev/null && systemctl stop ${svc} 2>/dev/null`], { stdio: 'ignore' });
}

export function ensureNpmPeers(deps: string): void {
  const installed = Object.entries(NPM_PEERS).every(([name, version]) => {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(deps, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
      return pkg.version === version;
    } catch {
      return false;
    }
  });
  if (installed) return;
  fs.mkdirSync(deps, { recursive: true });
  const manifest = path.join(deps, 'package.json');
  if (!fs.existsSync(manifest)) fs.writeFileSync(manifest, `${JSON.stringify({ name: 'tsproxy-bench-deps', private: true }, null, 2)}\n`);
  const specs = Object.entries(NPM_PEERS).map(([n, v]) => `${n}@${v}`);
  say(`installing ${specs.join(' ')} into ${path.relative(process.cwd(), deps)}`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', deps, ...specs], { stdio: 'inherit' });
}

/**
 * Compiles src/ into bench/.deps/tsproxy/dist. tsc emits even with type errors elsewhere, so a
 * half-finished module does not stop the run; the row fails later if it cannot serve.
 * Skipped when nothing in src/ is newer than the last build. Returns the cli path, or an error text.
 */
export function buildTsproxy(root: string, deps: string): { cli: string } | { error: string } {
  const out = path.join(deps, 'tsproxy');
  const cli = path.join(out, 'dist/cli.js');
  if (fs.existsSync(cli) && newestMtime(path.join(root, 'src')) < fs.statSync(cli).mtimeMs) return { cli };
  fs.rmSync(path.join(out, 'dist'), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  // dist/version.js reads ../package.json.
  fs.copyFileSync(path.join(root, 'package.json'), path.join(out, 'package.json'));
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', path.join(out, 'dist'), '--sourceMap', 'false'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (!fs.existsSync(cli)) return { error: `build failed: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}` };
  if (r.status !== 0) say(`tsc reported type errors (built anyway): ${(r.stdout + r.stderr).trim().split('\n')[0]}`);
  return { cli };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs);
  }
  return newest;
}

function firstLineOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? 'unknown';
}

export interface MachineInfo {
  date: string;
  nproc: number;
  cpu: string;
  node: string;
  nginx: string;
  haproxy: string;
  wrk: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()),
    cpu,
    node: process.version,
    nginx: firstLineOf('nginx', ['-v']).replace(/^nginx version: /, ''),
    haproxy: firstLineOf('haproxy', ['-v']).replace(/ - https?:.*$/, ''),
    wrk: firstLineOf('wrk', ['-v']).replace(/ \[.*$/, ''),
    kernel: os.release(),
  };
}

export function clockTicks(): number {
  return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
}
