/**
 * Summarise a .heapsnapshot (node --heapsnapshot-signal=SIGUSR2 ..., or v8.writeHeapSnapshot()):
 * shallow bytes by constructor, and by owner: each object is charged to the nearest object of a
 * named class above it on its shortest path from the roots, with the property path from there
 * ("CompiledLocation.plan.resHeaders.hide"; `[]` an element, `…` a longer path cut to its last
 * DEPTH steps). Plain objects, arrays, maps, sets, strings and closure contexts are not owners, so
 * a config tree is charged to whatever holds it (Runtime.#snapshot, a suspended Generator, ...).
 *
 *   node --max-old-space-size=12000 bench/heap-summary.mjs FILE.heapsnapshot [DEPTH=4] [ROWS=60]
 *
 * A 200 MB heap gives a ~300 MB snapshot; reading it takes a few GB and ~30 s.
 */
import fs from 'node:fs';

const [file, depthArg, rowsArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: node bench/heap-summary.mjs FILE.heapsnapshot [DEPTH] [ROWS]\n');
  process.exit(2);
}
const DEPTH = Number(depthArg ?? 4);
const ROWS = Number(rowsArg ?? 60);
const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const [T, NAME, SIZE, EDGES] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
const [ET, ENAME, ETO] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
const { nodes, edges, strings } = snap;
const N = nodes.length / NF;

const nameOf = (i) => {
  const t = nodeTypes[nodes[i * NF + T]];
  if (t === 'object' || t === 'closure' || t === 'native') return strings[nodes[i * NF + NAME]] || '(anonymous)';
  return t.includes('string') ? '(string)' : `(${t})`;
};

// shortest paths from the root (breadth first), ignoring weak edges
const firstEdge = new Int32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += nodes[i * NF + EDGES] * EF;
}
firstEdge[N] = edges.length;
const parent = new Int32Array(N).fill(-1);
const via = new Array(N);
const queue = new Int32Array(N);
const seen = new Uint8Array(N);
let tail = 0;
queue[tail++] = 0;
seen[0] = 1;
for (let head = 0; head < tail; head++) {
  const i = queue[head];
  for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF) {
    const et = edgeTypes[edges[e + ET]];
    if (et === 'weak' || et === 'shortcut') continue;
    const to = edges[e + ETO] / NF;
    if (seen[to]) continue;
    seen[to] = 1;
    queue[tail++] = to;
    parent[to] = i;
    const name = String(strings[edges[e + ENAME]]);
    via[to] = et === 'element' || /^\d+$/.test(name) ? '[]' : et === 'hidden' ? '[h]' : name;
  }
}

const NOT_OWNERS = new Set(['Object', 'Array', 'Set', 'Map', 'system / Context', '(anonymous)']);
const byName = new Map();
const byOwner = new Map();
let total = 0;
for (let i = 0; i < N; i++) {
  const size = nodes[i * NF + SIZE];
  total += size;
  const name = nameOf(i);
  const c = byName.get(name) ?? [0, 0];
  c[0]++;
  c[1] += size;
  byName.set(name, c);
  const steps = [];
  let owner = '(root)';
  for (let cur = i; parent[cur] >= 0; cur = parent[cur]) {
    if (via[cur] !== 'elements' && via[cur] !== 'table') steps.push(via[cur]);
    const p = nameOf(parent[cur]);
    if (!NOT_OWNERS.has(p) && !p.startsWith('(')) {
      owner = p;
      break;
    }
  }
  steps.reverse();
  const key = owner + (steps.length > DEPTH ? '…' : '.') + steps.slice(-DEPTH).join('.');
  const o = byOwner.get(key) ?? [0, 0];
  o[0]++;
  o[1] += size;
  byOwner.set(key, o);
}
const row = ([k, [count, size]]) => `${(size / 1e6).toFixed(2).padStart(8)} MB ${String(count).padStart(9)}  ${k.slice(0, 140)}`;
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} MB in ${N} nodes (shallow sizes; typed arrays' backing stores included)\n\nby constructor:\n`);
process.stdout.write(`${[...byName].sort((a, b) => b[1][1] - a[1][1]).slice(0, ROWS).map(row).join('\n')}\n\nby owner and path:\n`);
process.stdout.write(`${[...byOwner].sort((a, b) => b[1][1] - a[1][1]).slice(0, ROWS).map(row).join('\n')}\n`);
