/**
 * What the primary and its worker processes say to each other (node:cluster IPC, 'advanced'
 * serialization), and the primary's one-checker-per-peer health state.
 *
 * Workers receive the loaded Config over IPC rather than re-reading the file: a worker then serves
 * exactly the config the primary validated (an editor half way through writing the file cannot
 * give workers a different or broken version), and a 150k-line config is parsed once, not N times.
 * Config is plain data; it travels encoded in pieces, as chunks (config-transfer.ts).
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/types.js';
import { UpstreamGroup } from '../upstream/group.js';
import { PeerRegistry } from '../upstream/registry.js';
import { HealthChecker } from '../upstream/health/active.js';
import type { Peer } from '../upstream/peer.js';
import type { PeerHealthState, ReloadSummary } from './runtime.js';
import { STREAM_UPSTREAM_PREFIX } from './snapshot.js';
import type { ConfigChunk } from './config-transfer.js';
import type { SessionAnswer, SessionRequest } from './tls-session-ipc.js';
import type { LimitAnswer, LimitRequest } from './limit-ipc.js';
import type { StatusAnswer, StatusRequest } from './status-ipc.js';
import { healthSampleOf, type PeerHealthSample } from '../core/status/sample.js';

import type { ErrorLogger, ErrorLogTarget } from '../log.js';
import { RedisRouting } from '../core/redis/routing.js';

export type { ErrorLogTarget };

export type PrimaryMessage =
  /** `config`: the number of a transfer whose chunks came before (config-transfer.ts). */
  | { type: 'start'; config: number; errorLog: ErrorLogTarget; user: Config['main']['user']; ticketSecret: Uint8Array }
  /** Reload phase one: build and bind, change nothing; answered by `prepared`. */
  | { type: 'prepare'; id: number; config: number }
  /** Phase two, once every worker prepared: apply (answered by `reloaded`), or drop it (`abort`). */
  | { type: 'commit'; id: number }
  | { type: 'abort'; id: number }
  /** One-phase reload of a worker that started during a reload, to catch up with its outcome. */
  | { type: 'reload'; id: number; config: number }
  | ConfigChunk
  | { type: 'health'; states: PeerHealthState[] }
  | { type: 'reopen' }
  | { type: 'stop'; graceful: boolean }
  | SessionAnswer
  | LimitAnswer
  | StatusAnswer;

export type WorkerMessage =
  /** Sent once the worker listens for messages: cluster's 'online' comes before an ESM entry point has loaded, and IPC messages that arrive with no listener are lost. */
  | { type: 'hello' }
  | { type: 'ready'; addresses: [string, string][] }
  | { type: 'failed'; message: string }
  | { type: 'prepared'; id: number; error: string | null }
  | { type: 'reloaded'; id: number; summary: ReloadSummary | null; error: string | null }
  | SessionRequest
  | LimitRequest
  | StatusRequest;

/** worker_processes: 'auto' is one per CPU. */
export function workerCount(config: Config): number {
  const n = config.main.workerProcesses;
  return n === 'auto' ? Math.max(1, os.availableParallelism()) : n;
}

/** What PrimaryHealth.prepare made for a config: its checked groups and health_share's Redis links. */
export interface PreparedHealth {
  readonly groups: readonly UpstreamGroup[];
  /** The links of the `redis` blocks a checked upstream's `health_share` names (null: none). */
  readonly redis: RedisRouting | null;
}

/**
 * The primary's active health checks: one HealthChecker per checked upstream, on a registry of
 * its own (the primary serves no traffic). Verdict flips go to onChange, which broadcasts them.
 * `health_share` works here as in a single process: the checker probes under the Redis lease and
 * publishes its changes, and the verdicts of other instances are applied and broadcast too, so an
 * instance with workers counts as one prober among the instances.
 */
export class PrimaryHealth {
  readonly #registry = new PeerRegistry();
  readonly #logger: Logger;
  readonly #onChange: (state: PeerHealthState) => void;
  #checkers: HealthChecker[] = [];
  #groups: readonly UpstreamGroup[] = [];
  #redis: RedisRouting | null = null;

  constructor(logger: Logger, onChange: (state: PeerHealthState) => void) {
    this.#logger = logger;
    this.#onChange = onChange;
  }

  /** Build the groups of `config` (peers that stay keep their state), swap the checkers. */
  async apply(config: Config): Promise<void> {
    this.commit(await this.prepare(config));
  }

  /**
   * The checked groups of `config`, prepared like the workers' snapshots: nothing changes (checkers,
   * peer parameters) until commit(), so a reload the workers refuse leaves the checks as they were
   * (abort() then closes the Redis links it made).
   */
  async prepare(config: Config): Promise<PreparedHealth> {
    const wanted: [UpstreamConfig, string][] = [
      ...(config.http?.upstreams ?? []).map((u): [UpstreamConfig, string] => [u, '']),
      ...(config.stream?.upstreams ?? []).map((u): [UpstreamConfig, string] => [u, STREAM_UPSTREAM_PREFIX]),
    ].filter(([u]) => u.check !== null);
    const groups = await Promise.all(wanted.map(([u, namespace]) => UpstreamGroup.prepare(u, this.#registry, { namespace })));
    // only the blocks health_share names: the primary reads no redis_peers key (its workers do)
    const shared = new Set(groups.flatMap((g) => (g.config.healthShare === undefined ? [] : [g.config.healthShare])));
    const blocks = (config.redis ?? []).filter((b) => shared.has(b.name));
    const redis = blocks.length === 0 ? null : await RedisRouting.build(
      { ...config, redis: blocks }, { http: new Map(), stream: new Map() }, this.#redis, { logger: this.#logger as unknown as ErrorLogger },
    );
    return { groups, redis };
  }

  /** Switch the checkers to groups from prepare(). */
  commit(prepared: PreparedHealth): void {
    const { groups, redis } = prepared;
    for (const g of groups) g.commit();
    for (const c of this.#checkers) c.stop();
    for (const g of this.#groups) g.close();
    const oldRedis = this.#redis;
    this.#groups = groups;
    this.#redis = redis;
    this.#registry.retain(groups.flatMap((g) => g.registryKeys));
    this.#checkers = groups.map((g) => {
      const share = redis?.healthShare(g, (p) => this.#changed(p))?.checkerOptions();
      const onChange = share?.onChange === undefined ? (p: Peer) => this.#changed(p) : (p: Peer) => {
        this.#changed(p);
        share.onChange!(p);
      };
      return new HealthChecker(g, { logger: this.#logger, ...(share?.gate === undefined ? {} : { gate: share.gate }), onChange });
    });
    redis?.start();
    // after the new routing took over its links: a link both use stays open
    oldRedis?.close();
    for (const c of this.#checkers) c.start();
  }

  /** A prepared config that is not applied (the workers refused it): its Redis links are given back. */
  abort(prepared: PreparedHealth): void {
    prepared.redis?.close();
  }

  #changed(peer: Peer): void {
    // the group's peers now (`server name resolve` changes them): a peer that left is not reported
    const g = this.#groups.find((group) => group.entryOf(peer) !== undefined);
    if (g !== undefined) this.#onChange(stateOf(g.registryKeys[g.peers.indexOf(peer)]!, peer));
  }

  /** Every checked peer's current verdict (what a new or reloaded worker is sent). */
  states(): PeerHealthState[] {
    return this.#groups.flatMap((g) => g.peers.map((p, i) => stateOf(g.registryKeys[i]!, p)));
  }

  /** The checked peers' verdicts and check records by registry key (the status document's). */
  healthSamples(): Map<string, PeerHealthSample> {
    const out = new Map<string, PeerHealthSample>();
    for (const g of this.#groups) g.peers.forEach((p, i) => out.set(g.registryKeys[i]!, healthSampleOf(p)));
    return out;
  }

  stop(): void {
    for (const c of this.#checkers) c.stop();
    this.#checkers = [];
    for (const g of this.#groups) g.close();
    this.#groups = [];
    this.#redis?.close();
    this.#redis = null;
  }
}

function stateOf(registryKey: string, peer: Peer): PeerHealthState {
  return { registryKey, healthy: peer.healthy, checkedAt: peer.checkedAt, lastError: peer.lastError };
}
