/**
 * What a reload of the 10,000-server config allocates and retains, and its CPU, with no traffic
 * (issue 18; HACKING.md "Cost as work grows: 10,000 servers"). Each round starts each build's
 * proxy (pinned to CPU 0, under procs/heap-probe.mjs and --expose-gc), probes it after startup,
 * then reloads it `--reloads` times (each reload changes one server's text) and probes after each:
 *
 *   npx tsx bench/reload-heap.ts --cli A/dist/cli.js --cli-b B/dist/cli.js [--rounds 3] [--reloads 2] [--sampling]
 *
 * Printed per build, medians over rounds and reloads: the heap used after startup and after a
 * reload (after a forced full GC), the CPU of a reload on the serving thread (without the status
 * history's timer, heap-probe.mjs `timersMs`) and in the whole process (every thread: the load
 * thread and V8's GC threads too, the history's timer included), robust to a shared machine
 * where wall time is not. --sampling: the serving thread's bytes allocated per reload (V8's
 * sampling heap profiler, with collected objects), split into the config decode, the upstream
 * groups, the site (routers and plans), the status history's timer (not the reload's: every 5 s)
 * and the rest; the profiler costs CPU per sample, so CPU figures of such a run are not compared.
 * A window holds whatever else ran (the status history point every 5 s): compare builds in one run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { bigConfigText } from './gen-config.js';
import { freePort } from './lib/procs.js';

const { values } = parseArgs({
  options: {
    cli: { type: 'string', default: 'dist/cli.js' },
    'cli-b': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    reloads: { type: 'string', default: '2' },
    servers: { type: 'string', default: '10000' },
    sampling: { type: 'boolean', default: false },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const PROBE = path.join(ROOT, 'bench/procs/heap-probe.mjs');
const TASKSET = fs.existsSync('/usr/bin/taskset') && os.cpus().length >= 2;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-heap-'));
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Probe {
  n: number;
  used: number;
  allocated: number | null;
  before: { mainMs: number; procMs: number };
  after: { mainMs: number; procMs: number };
  timersMs: number;
}

interface Reload {
  heapMB: number;
  mainCpuMs: number;
  procCpuMs: number;
  bytes: Record<string, number> | null;
}

async function waitFor(file: string, pred: (text: string) => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.existsSync(file) && pred(fs.readFileSync(file, 'utf8'))) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting on ${file}`);
}

/** Bytes of a heap profile by phase (the frame names of the build's steps). */
function bytesByPhase(file: string): Record<string, number> {
  interface Node { callFrame: { functionName: string; url: string }; selfSize: number; children: Node[] }
  const head = (JSON.parse(fs.readFileSync(file, 'utf8')) as { head: Node }).head;
  const out: Record<string, number> = { total: 0, statusHistory: 0, decode: 0, groups: 0, site: 0, rest: 0 };
  const walk = (n: Node, tag: string): void => {
    const f = n.callFrame;
    let t = tag;
    if (t === 'rest') {
      if (f.functionName === 'record' && f.url.endsWith('status/local.js')) t = 'statusHistory';
      else if (f.functionName === 'decodeInPieces') t = 'decode';
      else if (f.functionName === 'buildGroups') t = 'groups';
      else if (f.functionName === 'siteParts') t = 'site';
    }
    out.total! += n.selfSize;
    out[t]! += n.selfSize;
    for (const c of n.children) walk(c, t);
  };
  walk(head, 'rest');
  return out;
}

async function run(cli: string, tag: string): Promise<{ startupMB: number; reloads: Reload[] }> {
  const port = await freePort();
  const conf = path.join(dir, `${tag}.conf`);
  const text = bigConfigText({
    servers: Number(values.servers), regexEvery: 10, listen: `127.0.0.1:${port}`,
    mainPrelude: 'pid off;\nerror_log stderr notice;\nworker_processes 1;\nwatch off;\n',
    httpPrelude: '    access_log off;\n    server_names_hash_max_size 32768;\n',
  });
  const variants = [text, text.replace('return 200 "site 7";', 'return 200 "site 7 changed";')];
  fs.writeFileSync(conf, variants[0]!);
  const out = path.join(dir, `${tag}.probe.jsonl`);
  const err = path.join(dir, `${tag}.err`);
  const args = ['--expose-gc', '--import', PROBE, path.resolve(ROOT, cli), '-c', conf];
  const [cmd, argv] = TASKSET ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'ignore', fs.openSync(err, 'w')],
    env: { ...process.env, PROBE_OUT: out, PROBE_SAMPLING: values.sampling ? '1' : '0' },
  });
  const probes = (): Probe[] => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Probe) : []);
  const probe = async (n: number): Promise<void> => {
    child.kill('SIGUSR2');
    await waitFor(out, () => probes().length >= n, 60_000);
  };
  try {
    await waitFor(err, (t) => t.includes('tsproxy started'), 180_000);
    await sleep(3000);
    await probe(1);
    for (let r = 1; r <= Number(values.reloads); r++) {
      fs.writeFileSync(conf, variants[r % 2]!);
      child.kill('SIGHUP');
      await waitFor(err, (t) => t.split('configuration reloaded').length - 1 >= r, 300_000);
      // the old config's peers and counters are retired in slices after the swap
      await sleep(3000);
      await probe(r + 1);
    }
  } finally {
    child.kill('SIGTERM');
  }
  const p = probes();
  const reloads: Reload[] = [];
  for (let i = 1; i < p.length; i++) {
    reloads.push({
      heapMB: p[i]!.used / 1e6,
      // without the status history's timer (not the reload's work: every 5 s, reload or not)
      mainCpuMs: p[i]!.before.mainMs - p[i - 1]!.after.mainMs - (p[i]!.timersMs - p[i - 1]!.timersMs),
      procCpuMs: p[i]!.before.procMs - p[i - 1]!.after.procMs,
      bytes: values.sampling ? bytesByPhase(`${out}.${p[i]!.n}.heapprofile`) : null,
    });
  }
  return { startupMB: p[0]!.used / 1e6, reloads };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const builds = [values.cli, ...(values['cli-b'] === undefined ? [] : [values['cli-b']])];
const results = new Map<string, { startupMB: number; reloads: Reload[] }[]>(builds.map((b) => [b, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  // alternate which build goes first
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) {
    const r = await run(b, `r${round}-${builds.indexOf(b)}`);
    results.get(b)!.push(r);
    say(`round ${round + 1} ${b}: startup ${r.startupMB.toFixed(1)} MB; reloads ${r.reloads.map((x) => `heap ${x.heapMB.toFixed(1)} MB, main ${x.mainCpuMs.toFixed(0)} ms, process ${x.procCpuMs.toFixed(0)} ms${x.bytes === null ? '' : `, allocated ${(x.bytes.total! / 1e6).toFixed(0)} MB`}`).join('; ')} (load ${os.loadavg()[0]!.toFixed(1)})`);
  }
}
for (const [b, rs] of results) {
  const all = rs.flatMap((r) => r.reloads);
  let line = `${b}: heap after startup ${median(rs.map((r) => r.startupMB)).toFixed(1)} MB, after a reload ${median(all.map((x) => x.heapMB)).toFixed(1)} MB; CPU of a reload: serving thread ${median(all.map((x) => x.mainCpuMs)).toFixed(0)} ms, process ${median(all.map((x) => x.procCpuMs)).toFixed(0)} ms`;
  if (values.sampling) {
    const keys = ['decode', 'groups', 'site', 'rest', 'statusHistory'];
    line += `; serving thread allocated (MB, without the status history's timer) ${median(all.map((x) => (x.bytes!.total! - x.bytes!.statusHistory!) / 1e6)).toFixed(0)}: ${keys.map((k) => `${k} ${median(all.map((x) => x.bytes![k]! / 1e6)).toFixed(0)}`).join(', ')}`;
  }
  say(line);
}
say(`files: ${dir}`);
