/**
 * What a reload changed, for its one summary log line: servers and upstreams added, changed and
 * removed. A server is identified by its kind, listen keys and first server_name (servers with
 * the same ones by their order among themselves); an upstream by its context and name.
 * "Changed" compares the content without source positions, so moving a block or adding a
 * comment changes nothing.
 */
import type { Config, ServerName } from '../config/types.js';
import { createHash } from 'node:crypto';
import { canonicalTexts, itemDigests } from '../config/canonical.js';
import { declaredHttpVariables } from '../config/variables.js';

const digest = (text: string): string => createHash('sha1').update(text).digest('base64');

export interface Changes {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
}

export interface ConfigDiff {
  readonly servers: Changes;
  readonly upstreams: Changes;
}

function firstName(names: readonly ServerName[]): string {
  const n = names[0];
  // no name: servers of the same listens are told apart by their order among themselves (setUnique)
  if (n === undefined) return '';
  return n.kind === 'exact' ? n.name : n.kind === 'regex' ? `~${n.source}` : n.kind === 'leadingWildcard' ? `*${n.suffix}` : `${n.prefix}*`;
}

/**
 * A digest of each server's and upstream's canonical text (config/canonical.ts), by identity key.
 * Kept per Config, so a reload digests only the new config; digests, not texts, so the compare
 * does not flatten 10,000 long strings (JSON.stringify of each, both configs, and comparing the
 * texts took 1.6 s of the serving thread per 10,000-server reload).
 */
const digestsOf = new WeakMap<Config, Stored>();

/** What is kept per Config: the maps (computed here, or parsed when asked for) and/or the texts the load thread sent. */
interface Stored {
  maps: ConfigDigests | null;
  texts: DigestTexts | null;
  readonly context: string;
  /**
   * The diff against the config the load compared with (the load thread computed it), named by
   * its hash (the object would keep every earlier config alive through its successor).
   */
  readonly diff: { readonly againstHash: string; readonly diff: ConfigDiff } | null;
}

/**
 * Digests as they travel between the serving thread and the load thread: each map as one JSON
 * text (`[key, digest, key, digest, ...]`, in order). One string is copied whole (a 20,000-entry
 * map as a structured clone, or decoded into a Map, cost the serving thread 10-20 ms a reload).
 */
export interface DigestTexts {
  readonly servers: string;
  readonly upstreams: string;
  readonly context: string;
}

export function digestsToText(d: ConfigDigests): DigestTexts {
  const flat = (m: Map<string, string>): string => JSON.stringify([...m].flat());
  return { servers: flat(d.servers), upstreams: flat(d.upstreams), context: d.context };
}

export function digestsFromText(t: DigestTexts): ConfigDigests {
  const map = (text: string): Map<string, string> => {
    const a = JSON.parse(text) as string[];
    const m = new Map<string, string>();
    for (let i = 0; i < a.length; i += 2) m.set(a[i]!, a[i + 1]!);
    return m;
  };
  return { servers: map(t.servers), upstreams: map(t.upstreams), context: t.context };
}

/**
 * Digests of each server's and upstream's canonical text, by identity key, in config order (http
 * items, then tcp ones): a key that repeats (two servers with the same listens and first name)
 * gets ` #2`, ` #3`... so every item has one entry and the n-th entry of a kind is its n-th item
 * (config-splice.ts relies on that). `context`: a digest of what every http server's build reads
 * besides the server itself (the http {} level, the declared variables, the prefix).
 */
export interface ConfigDigests {
  readonly servers: Map<string, string>;
  readonly upstreams: Map<string, string>;
  readonly context: string;
}

/**
 * Set `key` (made unique with an occurrence suffix) to `value`; `seen` counts each key's
 * occurrences (10,000 nameless servers of one listen are one key each time, and a scan for the
 * next free suffix would be quadratic).
 */
function setUnique(map: Map<string, string>, seen: Map<string, number>, key: string, value: string): void {
  const n = (seen.get(key) ?? 0) + 1;
  seen.set(key, n);
  map.set(n === 1 ? key : `${key} #${n}`, value);
}

/**
 * The digests of `config` (computed once per Config). Startup calls it before serving and a
 * reload's load thread computes them for the new config (rememberDigests), so a reload's diff on
 * the serving thread only compares.
 */
export function configDigests(config: Config): ConfigDigests {
  const stored = digestsOf.get(config);
  if (stored !== undefined && (stored.maps !== null || stored.texts !== null)) return (stored.maps ??= digestsFromText(stored.texts!));
  // the loader made them for the hash (config/canonical.ts itemDigests); only the keys are made here
  const items = itemDigests(config);
  const servers = new Map<string, string>();
  const seen = new Map<string, number>();
  const keyed = (kind: string, list: readonly { listens: readonly { key: string }[]; serverNames: readonly ServerName[] }[], digests: readonly string[]): void => {
    list.forEach((s, i) => setUnique(servers, seen, `${kind} ${s.listens.map((l) => l.key).sort().join(',')} ${firstName(s.serverNames)}`, digests[i]!));
  };
  keyed('http', config.http?.servers ?? [], items.httpServers);
  keyed('tcp', config.stream?.servers ?? [], items.tcpServers);
  const upstreams = new Map<string, string>();
  const seenUpstreams = new Map<string, number>();
  const named = (kind: string, list: readonly { name: string }[], digests: readonly string[]): void => {
    list.forEach((u, i) => setUnique(upstreams, seenUpstreams, `${kind} ${u.name}`, digests[i]!));
  };
  named('http', config.http?.upstreams ?? [], items.httpUpstreams);
  named('tcp', config.stream?.upstreams ?? [], items.tcpUpstreams);
  const maps = { servers, upstreams, context: contextDigest(config) };
  digestsOf.set(config, { maps, texts: null, context: maps.context, diff: null });
  return maps;
}

/** configDigests(config) as texts (for the load thread). */
export function configDigestTexts(config: Config): DigestTexts {
  const known = digestsOf.get(config)?.texts;
  if (known !== undefined && known !== null) return known;
  const maps = configDigests(config);
  return (digestsOf.get(config)!.texts = digestsToText(maps));
}

/**
 * What an http server's compiled form depends on besides its own block and the groups it names:
 * the main and http {} levels (maps, log formats, zones, scripts...), every variable the config declares
 * (templates compile against that set) and the prefix. Equal digests let a reload keep an
 * unchanged server's compiled plans (snapshot.ts).
 */
function contextDigest(config: Config): string {
  const http = config.http;
  const [main, level] = canonicalTexts([config.main, http === null ? null : { ...http, servers: [], upstreams: [] }]);
  const declared = http === null ? '' : [...declaredHttpVariables(http)].sort().join(',');
  return digest(`${config.prefix}\0${main!}\0${level!}\0${declared}`);
}

/** The context digest of `config` when its digests were computed or remembered already, else undefined (nothing is computed). */
export function knownContext(config: Config): string | undefined {
  return digestsOf.get(config)?.context;
}

/** Only the context digest of `config`, computed elsewhere (a worker process gets it from the primary). */
export function rememberContext(config: Config, context: string): void {
  if (!digestsOf.has(config)) digestsOf.set(config, { maps: null, texts: null, context, diff: null });
}

/**
 * Digests computed elsewhere (the load thread) for this Config object, and the diff it computed
 * against `against` (the config in service when the load began).
 */
export function rememberDigests(config: Config, texts: DigestTexts, diff: { against: Config; diff: ConfigDiff } | null = null): void {
  digestsOf.set(config, { maps: null, texts, context: texts.context, diff: diff === null ? null : { againstHash: diff.against.hash, diff: diff.diff } });
}

/** The diff between two configs' digests (the load thread's, against the running config's texts). */
export function diffDigests(before: ConfigDigests, after: ConfigDigests): ConfigDiff {
  return { servers: compare(before.servers, after.servers), upstreams: compare(before.upstreams, after.upstreams) };
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
  const known = digestsOf.get(after)?.diff;
  if (known !== undefined && known !== null && known.againstHash === before.hash) return known.diff;
  return diffDigests(configDigests(before), configDigests(after));
}
