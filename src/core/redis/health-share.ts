/**
 * `health_share NAME;` (issue 17): the instances sharing a Redis share one health view of a
 * group's peers. One instance at a time probes a peer: it holds the peer's lease
 * (`SET tsproxy:health:lease:UPSTREAM|PEER ID NX PX 1.5 x interval`, renewed at each of its
 * probes); the others skip the probe and look again every half interval, so when the prober
 * stops, the lease expires and another takes it within two intervals. The prober publishes each
 * verdict change on `tsproxy:health:UPSTREAM` and records it in the hash of that name (read by
 * an instance that starts later); every instance applies what it receives to its own Peer.
 *
 * Redis down: every instance probes for itself (a check nobody runs is worse than one run
 * twice), and verdicts are not shared until it is back.
 */
import type { ErrorLogger } from '../../log.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { HealthCheckerOptions } from '../../upstream/health/active.js';
import type { Peer } from '../../upstream/peer.js';
import type { RedisLink } from './link.js';

const PREFIX = 'tsproxy:health:';

interface Verdict {
  readonly peer: string;
  readonly healthy: boolean;
  readonly from: string;
}

export class HealthShare {
  readonly #link: RedisLink;
  readonly #group: UpstreamGroup;
  readonly #logger: ErrorLogger;
  readonly #channel: string;
  readonly #leaseMs: number;
  readonly #onApplied: ((peer: Peer) => void) | null;
  #unlisten: (() => void) | null = null;

  /** `onApplied`: a verdict of another instance changed `peer` (the primary of workers passes it on to them). */
  constructor(link: RedisLink, group: UpstreamGroup, logger: ErrorLogger, onApplied: ((peer: Peer) => void) | null = null) {
    this.#link = link;
    this.#group = group;
    this.#logger = logger;
    this.#onApplied = onApplied;
    this.#channel = `${PREFIX}${group.context === 'stream' ? 'stream:' : ''}${group.name}`;
    this.#leaseMs = Math.ceil((group.config.check?.intervalMs ?? 1000) * 1.5);
  }

  /** What the group's HealthChecker is given: probe only under the lease, publish each change. */
  checkerOptions(): Pick<HealthCheckerOptions, 'gate' | 'onChange'> {
    return { gate: (peer) => this.#hold(peer), onChange: (peer) => this.#publish(peer) };
  }

  /** Follow the others' verdicts: what is recorded now, then each change published. */
  start(): void {
    if (this.#unlisten !== null) return;
    this.#unlisten = this.#link.listen(this.#channel, (message) => {
      try {
        this.#apply(JSON.parse(message) as Verdict);
      } catch {
        // not ours: ignore
      }
    });
    if (this.#link.state !== 'up') return;
    this.#link.client.hgetall(this.#channel).then((recorded) => {
      for (const [peer, healthy] of Object.entries(recorded)) this.#apply({ peer, healthy: healthy === '1', from: '' });
    }, () => {});
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = null;
  }

  async #hold(peer: Peer): Promise<boolean> {
    if (this.#link.state !== 'up') return true;
    const key = `${PREFIX}lease:${this.#channel.slice(PREFIX.length)}|${peer.id}`;
    const client = this.#link.client;
    if ((await client.set(key, this.#link.instanceId, 'PX', this.#leaseMs, 'NX')) === 'OK') return true;
    if ((await client.get(key)) !== this.#link.instanceId) return false;
    await client.pexpire(key, this.#leaseMs);
    return true;
  }

  #publish(peer: Peer): void {
    if (this.#link.state !== 'up') return;
    const verdict: Verdict = { peer: peer.id, healthy: peer.healthy, from: this.#link.instanceId };
    const client = this.#link.client;
    client.hset(this.#channel, peer.id, peer.healthy ? '1' : '0').catch(() => {});
    client.publish(this.#channel, JSON.stringify(verdict)).catch(() => {});
  }

  #apply(v: Verdict): void {
    if (v.from === this.#link.instanceId) return;
    const peer = this.#group.peers.find((p) => p.id === v.peer);
    if (peer === undefined || peer.healthy === v.healthy) return;
    peer.healthy = v.healthy;
    // the counts start over: a probe here (after taking the lease) judges from scratch
    peer.riseCount = 0;
    peer.fallCount = 0;
    peer.noteState(v.healthy, Date.now());
    this.#logger.info({ upstream: this.#group.name, peer: peer.key }, `peer ${peer.key} in upstream ${this.#group.name} is ${v.healthy ? 'up' : 'down'} (shared through redis "${this.#link.name}")`);
    this.#onApplied?.(peer);
  }
}
