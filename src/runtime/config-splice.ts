/**
 * A reload's unchanged servers and upstreams travel by reference, not by value. The load thread
 * loads the whole config as always (every check runs on all of it), then leaves out of the payload
 * each server and upstream whose digest (diff.ts) equals the running config's item of the same key,
 * naming instead the running item's position; the serving thread puts the running config's very
 * objects in those places. A one-server change of a 10,000-server config then decodes one
 * server, not 28 MB, and the build can tell unchanged items by identity (snapshot.ts keeps their
 * upstream groups and compiled plans).
 *
 * Sound because a digest covers the item's whole canonical text (config/canonical.ts): equal
 * digests are equal content. Only source positions (`loc`) are left out of it, so a kept item
 * keeps the positions of the config it came from (a block moved by an edit above it); at run
 * time positions order a block's rewrite steps (unchanged by a move) and name the line of a
 * runtime error.
 */
import type { Config, HttpServerConfig, StreamServerConfig, UpstreamConfig } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import type { ConfigDigests } from './diff.js';

/** Per list, `[newIndex, runningIndex, ...]` pairs of the items left out of the payload. */
export interface Reuse {
  readonly httpServers: number[];
  readonly tcpServers: number[];
  readonly httpUpstreams: number[];
  readonly tcpUpstreams: number[];
}

/** Kinds of the digest keys (diff.ts): http items come first, then tcp ones. */
const HTTP = 'http ';

/** key → [digest, index among the items of its kind]. */
function positions(entries: Iterable<[string, string]>): Map<string, readonly [string, number]> {
  const out = new Map<string, readonly [string, number]>();
  let http = 0;
  let tcp = 0;
  for (const [key, digest] of entries) out.set(key, [digest, key.startsWith(HTTP) ? http++ : tcp++]);
  return out;
}

/** Which items of `next` equal the running config's: `[newIndex, runningIndex]` pairs per kind. */
function unchanged(next: Map<string, string>, running: Map<string, string>): { http: number[]; tcp: number[] } {
  const before = positions(running);
  const out = { http: [] as number[], tcp: [] as number[] };
  for (const [key, [digest, index]] of positions(next)) {
    const old = before.get(key);
    if (old !== undefined && old[0] === digest) (key.startsWith(HTTP) ? out.http : out.tcp).push(index, old[1]);
  }
  return out;
}

/** `list` with the items at the pairs' new indexes left out (null in their place). */
function without<T>(list: readonly T[] | undefined, reused: readonly number[]): (T | null)[] | undefined {
  if (list === undefined) return undefined;
  const out: (T | null)[] = list.slice();
  for (let i = 0; i < reused.length; i += 2) out[reused[i]!] = null;
  return out;
}

/**
 * The load thread's side: `config` with the items equal to the running config's left out, and
 * where they are. `digests` are `config`'s own.
 */
export function omitUnchanged(config: Config, digests: ConfigDigests, running: ConfigDigests): { config: Config; reuse: Reuse } {
  const servers = unchanged(digests.servers, running.servers);
  const upstreams = unchanged(digests.upstreams, running.upstreams);
  const reuse: Reuse = { httpServers: servers.http, tcpServers: servers.tcp, httpUpstreams: upstreams.http, tcpUpstreams: upstreams.tcp };
  return { config: omitted(config, reuse), reuse };
}

/** `config` (shallow copies) with `reuse`'s items left out. */
function omitted(config: Config, reuse: Reuse): Config {
  const http = config.http === null ? null : { ...config.http, servers: without(config.http.servers, reuse.httpServers), upstreams: without(config.http.upstreams, reuse.httpUpstreams) };
  const stream = config.stream === null ? null : { ...config.stream, servers: without(config.stream.servers, reuse.tcpServers), upstreams: without(config.stream.upstreams, reuse.tcpUpstreams) };
  return { ...config, http, stream } as unknown as Config;
}

/**
 * How each spliced config was made: what it kept from the config of which hash (worker processes
 * get the same splice, omitAgain). The hash, not the object: each config would keep the one
 * before it alive, and that one its own, for as long as the process runs. Equal hashes are equal
 * trees, item for item in the same places, so the positions hold for either.
 */
const splices = new WeakMap<Config, { readonly runningHash: string; readonly reuse: Reuse }>();

/**
 * `config` as the load thread sent it (the items it kept from `running` left out), when it was
 * spliced onto `running`; null otherwise. The primary sends this to worker processes that run
 * `running`, so each of them keeps the same items.
 */
export function omitAgain(config: Config, running: Config): { config: Config; reuse: Reuse } | null {
  const made = splices.get(config);
  if (made === undefined || made.runningHash !== running.hash) return null;
  return { config: omitted(config, made.reuse), reuse: made.reuse };
}

/** Put the running items back where `reuse` says (the decoded payload's arrays are its own). */
function fill<T>(list: readonly (T | null)[] | undefined, reused: readonly number[], from: readonly T[] | undefined): void {
  if (reused.length === 0) return;
  if (list === undefined || from === undefined) throw mismatch();
  const target = list as (T | null)[];
  for (let i = 0; i < reused.length; i += 2) {
    const item = from[reused[i + 1]!];
    if (item === undefined || target[reused[i]!] !== null) throw mismatch();
    target[reused[i]!] = item;
  }
}

/** The serving thread's side: the payload's config made whole with `running`'s own objects. */
export function spliceUnchanged(payload: Config, reuse: Reuse, running: Config): Config {
  fill<HttpServerConfig>(payload.http?.servers, reuse.httpServers, running.http?.servers);
  fill<UpstreamConfig>(payload.http?.upstreams, reuse.httpUpstreams, running.http?.upstreams);
  fill<StreamServerConfig>(payload.stream?.servers, reuse.tcpServers, running.stream?.servers);
  fill<UpstreamConfig>(payload.stream?.upstreams, reuse.tcpUpstreams, running.stream?.upstreams);
  splices.set(payload, { runningHash: running.hash, reuse });
  return payload;
}

/** The running config is not the one the thread compared against: a bug, failed as a reload. */
function mismatch(): TsproxyError {
  return new TsproxyError('TSP_ERR_RELOAD', 'the reload payload does not match the running configuration');
}
