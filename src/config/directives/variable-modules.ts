/**
 * `geo` and `split_clients` (nginx's ngx_http/stream_geo_module and _split_clients_module), in
 * http and stream alike: the blocks are read here into variable-types.ts, with nginx 1.22's
 * messages (checked with ask-nginx; test/config/variable-modules.test.ts); core/variables/
 * compiles them.
 */
import type { Arg, Directive } from '../ast.js';
import type { GeoConfig, SplitClientsConfig } from '../variable-types.js';
import { parseAddressSource, parseTrustedSource } from '../units.js';
import { err, isVariableName, noteTemplate, type DirectiveSpec, type Reporter, type Scope } from './scope.js';

function area(scope: Scope) {
  return scope.context === 'http' ? scope.state.http! : scope.state.stream!;
}

/** A dotted quad → its 32-bit value, or null. */
function ipv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** `a.b.c.d-e.f.g.h` → [from, to], or null. */
function parseRange(text: string): [number, number] | null {
  const dash = text.indexOf('-');
  if (dash < 0) return null;
  const from = ipv4(text.slice(0, dash));
  const to = ipv4(text.slice(dash + 1));
  return from === null || to === null || from > to ? null : [from, to];
}

type Piece = { from: number; to: number; value: string };

/**
 * Add a range to the sorted pieces as nginx does: one that nests inside a piece splits it (the
 * new value wins inside), an equal one replaces it (warned), any other overlap is an error that
 * names the last piece it overlaps.
 */
function addRange(pieces: Piece[], add: Piece, text: string, r: Reporter, loc: Arg['loc']): void {
  let i = 0;
  while (i < pieces.length && pieces[i]!.to < add.from) i++;
  let last = i;
  while (last < pieces.length && pieces[last]!.from <= add.to) last++;
  if (last === i) {
    pieces.splice(i, 0, add);
    return;
  }
  const p = pieces[i]!;
  if (last === i + 1 && p.from === add.from && p.to === add.to) {
    r.warn('TSP_ERR_CONFIG_DUPLICATE', `duplicate range "${text}", value: "${add.value}", old value: "${p.value}"`, loc);
    p.value = add.value;
    return;
  }
  if (last === i + 1 && p.from <= add.from && add.to <= p.to) {
    const parts: Piece[] = [];
    if (p.from < add.from) parts.push({ from: p.from, to: add.from - 1, value: p.value });
    parts.push(add);
    if (add.to < p.to) parts.push({ from: add.to + 1, to: p.to, value: p.value });
    pieces.splice(i, 1, ...parts);
    return;
  }
  const q = pieces[last - 1]!;
  err(r, 'TSP_ERR_CONFIG_VALUE', `range "${text}" overlaps "${formatIpv4(q.from)}-${formatIpv4(q.to)}"`, loc);
}

/** A CIDR as nginx keys it: host bits cleared (warned), one key per network. */
function networkKey(text: string, r: Reporter, loc: Arg['loc']): string | null {
  const s = parseAddressSource(text);
  if (s === null || s.kind !== 'cidr') {
    err(r, 'TSP_ERR_CONFIG_VALUE', `invalid network "${text}"`, loc);
    return null;
  }
  const check = parseTrustedSource(text, 'geo');
  if (check.ok && check.value.warning !== null) r.warn('TSP_ERR_CONFIG_VALUE', check.value.warning, loc);
  return `${s.bytes.map((b, i) => b & (0xff << (8 - Math.max(0, Math.min(8, s.bits - i * 8)))) & 0xff).join('.')}/${s.bits}`;
}

function applyGeo(scope: Scope, d: Directive): null {
  const r = scope.state.report;
  const stream = scope.context === 'stream';
  const target = d.args[d.args.length - 1]!;
  const source = d.args.length === 2 ? d.args[0]! : null;
  if (!isVariableName(target.value)) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${target.value}"`, target.loc); return null; }
  if (source !== null) noteTemplate(scope, source.value, source.loc);
  const geo: { -readonly [K in keyof GeoConfig]: GeoConfig[K] } = {
    variable: target.value.slice(1), source: source?.value ?? null, defaultValue: '', ranges: false,
    networks: [], pieces: [], proxies: [], proxyRecursive: false, loc: d.loc,
  };
  const proxies: string[] = [];
  const networks = new Map<string, { network: string; value: string }>();
  const pieces: Piece[] = [];
  for (const e of d.block ?? []) {
    const a0 = e.args[0];
    if (e.block !== null || e.args.length > 1) { err(r, 'TSP_ERR_CONFIG_ARGS', 'invalid number of the geo parameters', e.loc); continue; }
    if (a0 === undefined) {
      if (e.name === 'ranges') geo.ranges = true;
      else if (e.name === 'proxy_recursive' && !stream) geo.proxyRecursive = true;
      else err(r, 'TSP_ERR_CONFIG_ARGS', 'invalid number of the geo parameters', e.loc);
      continue;
    }
    const nameLoc = { ...e.loc, length: e.name.length };
    if (e.name === 'default') { geo.defaultValue = a0.value; continue; }
    if (e.name === 'proxy' && !stream) {
      if (networkKey(a0.value, r, a0.loc) !== null) proxies.push(a0.value);
      continue;
    }
    if (e.name === 'delete') {
      if (geo.ranges) {
        const range = parseRange(a0.value);
        const at = range === null ? -1 : pieces.findIndex((p) => p.from === range[0] && p.to === range[1]);
        if (range === null) err(r, 'TSP_ERR_CONFIG_VALUE', `invalid range "${a0.value}"`, a0.loc);
        else if (at < 0) r.warn('TSP_ERR_CONFIG_REFERENCE', `no address range "${a0.value}" to delete`, a0.loc);
        else pieces.splice(at, 1);
      } else {
        const key = networkKey(a0.value, r, a0.loc);
        if (key !== null && !networks.delete(key)) r.warn('TSP_ERR_CONFIG_REFERENCE', `no network "${a0.value}" to delete`, a0.loc);
      }
      continue;
    }
    if (geo.ranges) {
      const range = parseRange(e.name);
      if (range === null) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid range "${e.name}"`, nameLoc); continue; }
      addRange(pieces, { from: range[0], to: range[1], value: a0.value }, e.name, r, nameLoc);
      continue;
    }
    const key = networkKey(e.name, r, nameLoc);
    if (key === null) continue;
    const old = networks.get(key);
    if (old !== undefined) r.warn('TSP_ERR_CONFIG_DUPLICATE', `duplicate network "${e.name}", value: "${a0.value}", old value: "${old.value}"`, nameLoc);
    networks.set(key, { network: e.name, value: a0.value });
  }
  geo.networks = [...networks.values()];
  geo.pieces = pieces;
  geo.proxies = proxies;
  area(scope).geo.push(geo);
  return null;
}

/** nginx's ngx_atofp(text, 2): a decimal with at most two fraction digits, in hundredths. */
function hundredths(text: string): number | null {
  const m = /^(\d+)(?:\.(\d{0,2}))?$/.exec(text);
  if (m === null) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function applySplitClients(scope: Scope, d: Directive): null {
  const r = scope.state.report;
  const [key, target] = d.args as [Arg, Arg];
  if (!isVariableName(target.value)) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${target.value}"`, target.loc); return null; }
  noteTemplate(scope, key.value, key.loc);
  const parts: { percent: number; value: string }[] = [];
  let sum = 0;
  for (const e of d.block ?? []) {
    if (e.block !== null || e.args.length < 1) { err(r, 'TSP_ERR_CONFIG_ARGS', 'invalid number of arguments in split_clients parameter', e.loc); continue; }
    const nameLoc = { ...e.loc, length: e.name.length };
    let percent = 0;
    if (e.name !== '*') {
      const n = e.name.endsWith('%') ? hundredths(e.name.slice(0, -1)) : null;
      if (n === null || n === 0) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid percent value "${e.name}"`, nameLoc); continue; }
      percent = n;
    }
    parts.push({ percent, value: e.args[0]!.value });
  }
  // nginx: `*` takes what is left, so a part after it passes 100%
  for (const p of parts) {
    sum = p.percent === 0 ? 10000 : sum + p.percent;
    if (sum > 10000) { err(r, 'TSP_ERR_CONFIG_VALUE', 'percent total is greater than 100%', d.loc); return null; }
  }
  const config: SplitClientsConfig = { variable: target.value.slice(1), key: key.value, parts, loc: d.loc };
  area(scope).splitClients.push(config);
  return null;
}

export const VARIABLE_MODULE_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'geo', contexts: ['http', 'stream'], args: [1, 2], block: 'map', rawBlock: true, multiple: true,
    syntax: 'geo [$address] $variable { [default value;] [ranges;] [proxy address;] [proxy_recursive;] [delete network;] network value; ... }',
    summary: 'A variable whose value depends on the client address (or `$address`): CIDR networks (longest match) or, with `ranges`, IPv4 ranges.',
    note: '`include` works inside the block. `proxy` / `proxy_recursive` (http only): for a client among the proxies, the address is the last of X-Forwarded-For (with `proxy_recursive`, the last one that is not a proxy). An address that does not parse is looked up as 255.255.255.255, as nginx.',
    apply: applyGeo,
  },
  {
    name: 'split_clients', contexts: ['http', 'stream'], args: [2, 2], block: 'map', rawBlock: true, multiple: true,
    syntax: 'split_clients string $variable { percent% value; ... [* value;] }',
    summary: 'A variable for A/B testing: the MurmurHash2 of the string picks a part by percentage (the same buckets as nginx).',
    note: 'Percentages take at most two decimals; a key past every part (no `*`) gives an empty value.',
    apply: applySplitClients,
  },
];
