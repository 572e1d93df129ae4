/**
 * What a reload changed, for its one summary log line: servers and upstreams added, changed and
 * removed. A server is identified by its kind, listen keys and first server_name (or its index
 * when it has none); an upstream by its context and name. "Changed" compares the content without
 * source positions, so moving a block or adding a comment changes nothing.
 */
import type { Config, ServerName } from '../config/types.js';

export interface Changes {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
}

export interface ConfigDiff {
  readonly servers: Changes;
  readonly upstreams: Changes;
}

function withoutLoc(key: string, value: unknown): unknown {
  return key === 'loc' ? undefined : value;
}

function firstName(names: readonly ServerName[], index: number): string {
  const n = names[0];
  if (n === undefined) return `#${index}`;
  return n.kind === 'exact' ? n.name : n.kind === 'regex' ? `~${n.source}` : n.kind === 'leadingWildcard' ? `*${n.suffix}` : `${n.prefix}*`;
}

function servers(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  config.http?.servers.forEach((s, i) => {
    out.set(`http ${s.listens.map((l) => l.key).sort().join(',')} ${firstName(s.serverNames, i)}`, JSON.stringify(s, withoutLoc));
  });
  config.stream?.servers.forEach((s, i) => {
    out.set(`tcp ${s.listens.map((l) => l.key).sort().join(',')} ${firstName(s.serverNames, i)}`, JSON.stringify(s, withoutLoc));
  });
  return out;
}

function upstreams(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  for (const u of config.http?.upstreams ?? []) out.set(`http ${u.name}`, JSON.stringify(u, withoutLoc));
  for (const u of config.stream?.upstreams ?? []) out.set(`tcp ${u.name}`, JSON.stringify(u, withoutLoc));
  return out;
}

function compare(before: Map<string, string>, after: Map<string, string>): Changes {
  let added = 0;
  let changed = 0;
  let removed = 0;
  for (const [k, v] of after) {
    const old = before.get(k);
    if (old === undefined) added++;
    else if (old !== v) changed++;
  }
  for (const k of before.keys()) if (!after.has(k)) removed++;
  return { added, changed, removed };
}

export function diffConfigs(before: Config, after: Config): ConfigDiff {
  return { servers: compare(servers(before), servers(after)), upstreams: compare(upstreams(before), upstreams(after)) };
}
