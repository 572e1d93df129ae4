/**
 * The import map of src/ (HACKING.md "The map"): which folder may import which. Every import
 * counts, `import type` included. A new edge against the map, or a loop between folders, fails
 * here; change the map on purpose (here and in HACKING.md), never by accident.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/**
 * Layers from the bottom up: a folder may import its own layer's leaves and anything in a lower
 * layer, never a higher one. `.` is src/ itself (errors.ts, constants.ts, log.ts, version.ts,
 * cli.ts); cli.ts is checked on its own below.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  '.': ['log'],
  log: ['.'],
  wire: ['.'],
  config: ['.', 'log', 'wire'],
  tls: ['.', 'log', 'wire', 'config'],
  upstream: ['.', 'log', 'wire', 'config', 'tls'],
  core: ['.', 'log', 'wire', 'config', 'tls', 'upstream'],
  http: ['.', 'log', 'wire', 'config', 'tls', 'upstream', 'core'],
  http2: ['.', 'log', 'wire', 'config', 'tls', 'upstream', 'core', 'http'],
  tcp: ['.', 'log', 'wire', 'config', 'tls', 'upstream', 'core'],
  runtime: ['.', 'log', 'wire', 'config', 'tls', 'upstream', 'core', 'http', 'http2', 'tcp'],
  cli: ['.', 'log', 'config', 'runtime'],
};

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly file: string;
}

function folderOf(file: string): string {
  const rel = path.relative(SRC, file);
  const parts = rel.split(path.sep);
  return parts.length === 1 ? '.' : parts[0]!;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|(?:^|\n)\s*import\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)|\brequire(?:Esm)?\(\s*'(\.[^']+)'\s*\)/g;

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4]!;
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (path.relative(SRC, target).startsWith('..')) continue; // package.json, not code
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) out.push({ from, to, file: path.relative(SRC, file) });
    }
  }
  return out;
}

describe('the import map of src/', () => {
  const all = edges();
  const folders = new Set(all.flatMap((e) => [e.from, e.to]));

  test('every folder of src/ is on the map', () => {
    expect([...folders].filter((f) => !(f in ALLOWED)).sort()).toEqual([]);
  });

  test('no import goes against the map', () => {
    const against = all.filter((e) => !(e.from === '.' && path.basename(e.file) === 'cli.ts') && !(ALLOWED[e.from] ?? []).includes(e.to));
    expect(against.map((e) => `${e.file}: ${e.from} -> ${e.to}`)).toEqual([]);
  });

  test('cli.ts only drives the runtime, the config and the command line', () => {
    const cli = all.filter((e) => e.file === 'cli.ts').map((e) => e.to);
    expect([...new Set(cli)].filter((t) => !['cli', 'config', 'runtime', 'log'].includes(t))).toEqual([]);
  });

  test('no loop between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of all) {
      if (e.from === '.' || e.to === '.') continue; // the leaves (errors, constants, log) and cli.ts
      (graph.get(e.from) ?? graph.set(e.from, new Set()).get(e.from)!).add(e.to);
    }
    const loops: string[] = [];
    const visit = (node: string, stack: string[]): void => {
      const i = stack.indexOf(node);
      if (i >= 0) {
        loops.push([...stack.slice(i), node].join(' -> '));
        return;
      }
      for (const next of graph.get(node) ?? []) visit(next, [...stack, node]);
    };
    for (const node of graph.keys()) visit(node, []);
    expect([...new Set(loops)].sort()).toEqual([]);
  });
});
