/**
 * tsproxy benchmark suite: tsproxy side by side with nginx, HAProxy and the Node proxies.
 *   npm run bench                 full run (5 interleaved rounds, about 10 minutes)
 *   npm run bench -- --quick      about a minute (fewer rounds, shorter runs, 1,000 idle sockets)
 * Options: --rounds N, --only small,64k,latency,ws,idle,tcp,configtest,reload,scale, --peers nginx,tsproxy,...,
 *          --tsproxy PATH/cli.js (use a built cli instead of compiling src/ into bench/.deps),
 *          --cpu-prof (write `node --cpu-prof` profiles of tsproxy to bench/out/profiles),
 *          --ws-burst N (WebSocket messages per backend write in the WS CPU scenario, default 8).
 * Prints one table of medians with ratios to nginx and writes it to bench/results/latest.md.
 * The machine's speed drifts by tens of percent from minute to minute, so only the ratios of one
 * run mean anything: every scenario runs the rows round robin, in a rotated order each round.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { installTrap, killAll, start, firstLine, run, tail } from './lib/procs.js';
import { Peer, PEERS, DIRECT, type BenchContext, type Backends } from './lib/peers.js';
import { SCENARIOS, type Settings, type Env, type Scenario } from './lib/scenarios.js';
import { tableGrid, toMarkdown, toText, formatNumber, type Row, type Cell } from './lib/report.js';
import { ensureSystemPackages, ensureNpmPeers, buildTsproxy, machineInfo, clockTicks } from './lib/setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROXY_CPUS = '0';
const LOAD_CPUS = '1';
const NOFILE = 20_000;

function option(name: string): string | null {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1) return process.argv[i + 1] ?? null;
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq === undefined ? null : eq.slice(name.length + 3);
}

const started = Date.now();
function say(line: string): void {
  const secs = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`bench ${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')} ${line}\n`);
}

function settingsFor(quick: boolean): Settings {
  const rounds = Number(option('rounds') ?? (quick ? 1 : 5));
  return {
    quick,
    rounds,
    httpSeconds: quick ? 1 : 2,
    latencySeconds: 1,
    tcpSeconds: quick ? 1 : 1.5,
    wsMessages: quick ? 500_000 : 1_000_000,
    wsBurst: Number(option('ws-burst') ?? 8),
    wsMessagesSingle: quick ? 100_000 : 200_000,
    wsConns: 10,
    idleConns: quick ? 2_000 : 5_000,
    idleSteps: 4,
    reloadSeconds: quick ? 2 : 4,
    reloads: quick ? 5 : 10,
    configServers: 10_000,
    loadCpus: LOAD_CPUS,
    ticksPerS: clockTicks(),
  };
}

function roundsOf(sc: Scenario, s: Settings): number {
  return sc.rounds !== undefined && option('rounds') === null ? sc.rounds(s) : s.rounds;
}

async function startBackend(ctx: Pick<BenchContext, 'root' | 'nofile'>): Promise<Backends> {
  const child = start('node', [path.join(ctx.root, 'bench/procs/backend.mjs')], { cpus: LOAD_CPUS, nofile: ctx.nofile });
  tail(child);
  return JSON.parse(await firstLine(child, 15_000)) as Backends;
}

async function warmUp(peers: readonly Peer[], s: Settings): Promise<void> {
  // JIT warm-up for the Node rows (nginx and HAProxy have nothing to warm).
  for (const p of peers) {
    if (p.error !== null || ['direct', 'nginx', 'haproxy'].includes(p.id)) continue;
    for (const pathName of ['/small', '/64k']) {
      await run('wrk', ['-t1', '-c50', '-d', '1s', `http://127.0.0.1:${p.endpoint.http}${pathName}`], { cpus: LOAD_CPUS, timeoutMs: 20_000 });
    }
  }
}

async function runScenario(sc: Scenario, peers: readonly Peer[], env: Env, rows: Map<string, Row>): Promise<void> {
  const rounds = roundsOf(sc, env.settings);
  const cellsOf = (p: Peer) => sc.columns.map((c) => rows.get(p.id)!.cells.get(c.id)!);
  for (const p of peers) for (const c of sc.columns) rows.get(p.id)!.cells.set(c.id, { values: [], notApplicable: !sc.applies(p) || p.spec.skip?.includes(sc.id) === true });
  for (let round = 0; round < rounds; round++) {
    const order = peers.map((_, i) => peers[(i + round) % peers.length]!);
    for (const p of order) {
      const cells = cellsOf(p);
      if (cells[0]!.notApplicable) continue;
      let note: string;
      try {
        if (p.error !== null && !(await p.start())) throw new Error(p.error);
        await p.ensure(sc.fresh === true);
        const got = await sc.measure(p, env);
        sc.columns.forEach((c, i) => cells[i]!.values.push(got[c.id]!));
        note = sc.columns.map((c) => formatNumber(got[c.id]!, c.digits)).join(' / ');
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        for (const c of cells) c.error = msg;
        note = `failed: ${msg}`;
      }
      say(`[${sc.id} ${round + 1}/${rounds}] ${p.spec.label}: ${note}`);
    }
  }
}

function header(info: ReturnType<typeof machineInfo>, s: Settings, command: string): string[] {
  return [
    `date: ${info.date}   nproc: ${info.nproc}   CPU: ${info.cpu}   kernel: ${info.kernel}`,
    `node ${info.node}   nginx ${info.nginx}   ${info.haproxy}   ${info.wrk}`,
    `command: ${command}`,
    `pinning: proxy on CPU ${PROXY_CPUS} (taskset, 1 worker/thread); wrk -t1, the backend (raw-socket HTTP, ws echo, TCP source) and the clients on CPU ${LOAD_CPUS}; all on 127.0.0.1`,
    `method: ${s.rounds} interleaved round(s) per scenario (idle WS: ${Math.min(s.rounds, 2)}, config test and reload: ${Math.min(s.rounds, 3)}), medians; cells are "median (ratio to nginx in this run)"`,
  ];
}

function legend(s: Settings): string[] {
  return [
    'HTTP small / 64 KiB: wrk -t1 -c50, keep-alive, req/s (higher is better).',
    'c1 p50/p99: wrk -t1 -c1 --latency on the small response, ms (lower is better).',
    `WS CPU us/msg: proxy CPU time (all threads of all its processes, /proc/PID/task/TID/schedstat) per 64-byte message of a client-bound stream to 10 sockets, the backend sending as fast as the path takes them in bursts of ${s.wsBurst} messages per write (lower is better); "1/write": the same with one write per message, which measures the per-read/write (wakeup, syscall) cost.`,
    'idle WS KiB/conn: slope of settled RSS (after a pause, once it stops moving) over the number of idle WebSockets held open through a fresh proxy, 4 equal steps (lower is better).',
    'raw TCP Gbit/s: one stream from a TCP source through the stream/tcp proxy to a sink (higher is better); "-" = the row has no TCP proxy.',
    '-t 10k servers s: wall time of `nginx -t` / `tsproxy -t` on bench/gen-config.ts output (10,000 server blocks), on the proxy CPU (lower is better).',
    'reload: failed req = wrk socket errors + non-2xx while the config is changed and reloaded N times under wrk -t1 -c50 keep-alive (nginx SIGHUP, HAProxy -W master-worker SIGUSR2, tsproxy SIGHUP; 1 worker, pinned as above); req/s vs none = req/s of that run / req/s of the same instance without reloads; "-" = not run for that row.',
    'n/a (reason): the row failed in every round of that scenario; ratio 1.00 = nginx.',
  ];
}

async function main(): Promise<void> {
  installTrap();
  const quick = process.argv.includes('--quick');
  const s = settingsFor(quick);
  const deps = path.join(root, 'bench/.deps');
  try {
    execFileSync('taskset', ['-a', '-cp', LOAD_CPUS, String(process.pid)], { stdio: 'ignore' });
  } catch {
    say('could not pin the harness itself');
  }
  ensureSystemPackages();
  ensureNpmPeers(deps);

  const only = option('only')?.split(',') ?? null;
  const onlyPeers = option('peers')?.split(',') ?? null;
  let tsproxyCli = option('tsproxy');
  let tsproxyError: string | null = null;
  if (tsproxyCli === null && (onlyPeers === null || onlyPeers.includes('tsproxy'))) {
    say('building tsproxy into bench/.deps/tsproxy');
    const b = buildTsproxy(root, deps);
    if ('cli' in b) tsproxyCli = b.cli;
    else tsproxyError = b.error;
  }
  tsproxyCli = path.resolve(tsproxyCli ?? path.join(root, 'dist/cli.js'));

  const work = fs.mkdtempSync('/tmp/tsproxy-bench-');
  const backends = await startBackend({ root, nofile: NOFILE });
  const cpuProfDir = process.argv.includes('--cpu-prof') ? path.join(root, 'bench/out/profiles') : null;
  const ctx: BenchContext = { root, work, deps, tsproxyCli, backends, proxyCpus: PROXY_CPUS, nofile: NOFILE, cpuProfDir };
  const specs = [DIRECT, ...PEERS].filter((p) => onlyPeers === null || p.id === 'direct' || onlyPeers.includes(p.id));
  const peers = specs.map((spec) => new Peer(spec, ctx, spec === DIRECT));
  for (const p of peers) {
    if (p.id === 'tsproxy' && tsproxyError !== null) p.error = tsproxyError;
    else if (!(await p.start())) say(`${p.spec.label}: ${p.error}`);
  }

  const scenarios = SCENARIOS.filter((sc) => only === null || only.includes(sc.id));
  const configFile = path.join(work, 'configtest.conf');
  if (scenarios.some((sc) => sc.id === 'configtest')) {
    const r = await run(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'bench/gen-config.ts'), configFile, String(s.configServers)], { cpus: LOAD_CPUS, timeoutMs: 60_000 });
    if (r.code !== 0) say(`gen-config failed: ${r.stderr.trim()}`);
  }
  const env: Env = { ctx, settings: s, configFile };
  const rows = new Map<string, Row>(peers.map((p) => [p.id, { id: p.id, label: p.spec.label, cells: new Map<string, Cell>() }]));

  say('warming up');
  await warmUp(peers, s);
  const t0 = Date.now();
  for (const sc of scenarios) await runScenario(sc, peers, env, rows);
  for (const p of peers) await p.stop();
  killAll();

  const columns = scenarios.filter((sc) => sc.separate === undefined).flatMap((sc) => sc.columns);
  const grid = tableGrid([...rows.values()], columns, 'nginx');
  // Scenarios with a table of their own list only the rows that take part.
  const extra = scenarios.flatMap((sc) => {
    if (sc.separate === undefined) return [];
    const taking = [...rows.values()].filter((r) => sc.columns.some((c) => r.cells.get(c.id)?.notApplicable === false));
    return [{ ...sc.separate, grid: tableGrid(taking, sc.columns, 'nginx') }];
  });
  const args = process.argv.slice(2);
  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}` : `npx tsx bench/run.ts ${args.join(' ')}`.trim();
  const head = header(machineInfo(), s, command);
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  const extraText = extra.map((t) => `\n${t.title}; ${t.note}\n${toText(t.grid)}\n`).join('');
  process.stdout.write(`\n${head.join('\n')}\n\n${toText(grid)}\n${extraText}\n(measured in ${minutes} min)\n`);

  const raw = [...rows.values()].flatMap((r) =>
    [...r.cells.entries()].filter(([, c]) => c.values.length > 0).map(([col, c]) => `- ${r.label} / ${col}: ${c.values.map((v) => formatNumber(v, 3)).join(', ')}`),
  );
  const md = [
    '# tsproxy benchmark: latest results',
    '',
    ...head.map((l) => `${l}  `),
    '',
    toMarkdown(grid),
    '',
    ...legend(s).map((l) => `- ${l}`),
    '',
    ...extra.flatMap((t) => [`## ${t.title}`, '', `${t.note}.`, '', toMarkdown(t.grid), '']),
    '<details><summary>every round</summary>',
    '',
    ...raw,
    '',
    '</details>',
    '',
  ].join('\n');
  // A partial run (--only/--peers) must not replace the table the README quotes.
  const out = path.join(root, only === null && onlyPeers === null ? 'bench/results/latest.md' : 'bench/out/partial.md');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md);
  say(`wrote ${path.relative(root, out)}`);
  if (cpuProfDir !== null) say(`tsproxy CPU profiles (open in Chrome DevTools) in ${path.relative(root, cpuProfDir)}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(err instanceof Error ? (err.stack ?? err.message) : String(err));
    killAll();
    process.exit(1);
  },
);

