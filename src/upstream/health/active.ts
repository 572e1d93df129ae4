/**
 * Active health checks for one group (nginx_upstream_check_module semantics): every peer is
 * probed every `interval`, `rise` consecutive successes bring it up, `fall` consecutive failures
 * take it down. Probes of a group are spread over the interval, never overlap for one peer, and
 * only state changes are logged. The runtime starts a checker per group and stops the old one on
 * reload; the verdicts live on the Peers, which the registry keeps across reloads. The settings
 * (interval, rise, fall, type...) are the group's `check`: the checker of the committed config
 * drives the verdict, and nothing of the check is written into the Peer.
 *
 * A peer down only because `default_down` says so (new to checking: no result yet) is probed at
 * once, and again back to back while it passes, until `rise` brings it up or one probe fails; then
 * it joins the schedule. Otherwise a freshly started proxy answers 502 for interval x rise
 * (a minute with the defaults) before serving a backend that was up all along.
 */
import type { CheckConfig } from '../../config/types.js';
import { logger as rootLogger } from '../../log.js';
import type { UpstreamGroup } from '../group.js';
import type { Peer } from '../peer.js';
import { CheckConnections } from './http-check.js';
import { probe, type ProbeResult } from './probes.js';
import { checkResultCode } from './result-code.js';

export interface CheckLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface HealthCheckerOptions {
  /** Clock in ms for `checkedAt`; default Date.now. */
  readonly now?: () => number;
  /** Random source in [0, 1) for the start jitter; default Math.random. */
  readonly random?: () => number;
  /** Default: the process logger (read at log time, so setLogger() applies). */
  readonly logger?: CheckLogger;
  /** Called after a peer's verdict flipped (the primary forwards it to worker processes). */
  readonly onChange?: (peer: Peer) => void;
  /**
   * Whether this process probes `peer` now (health_share: it holds the peer's lease). false:
   * the probe is skipped and asked again after half an interval (someone else probes and
   * publishes). Absent: always.
   */
  readonly gate?: (peer: Peer) => boolean | Promise<boolean>;
}

interface PeerSchedule {
  timer: NodeJS.Timeout | null;
  inFlight: AbortController | null;
}

/** Down only by default_down: no check result since checking started (Peer.watchActively reset the counts). */
function downByDefault(peer: Peer): boolean {
  return !peer.healthy && peer.riseCount === 0 && peer.fallCount === 0;
}

export class HealthChecker {
  readonly group: UpstreamGroup;
  readonly #check: CheckConfig | null;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #logger: CheckLogger | null;
  readonly #onChange: ((peer: Peer) => void) | null;
  readonly #gate: ((peer: Peer) => boolean | Promise<boolean>) | null;
  #schedules = new Map<Peer, PeerSchedule>();
  /** Idle connections between http checks (check_keepalive_requests > 1). */
  readonly #kept = new CheckConnections();
  #running = false;
  /** Stops following the group's peer set (resolve). */
  #unfollow: (() => void) | null = null;

  constructor(group: UpstreamGroup, opts: HealthCheckerOptions = {}) {
    this.group = group;
    this.#check = group.config.check;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#logger = opts.logger ?? null;
    this.#onChange = opts.onChange ?? null;
    this.#gate = opts.gate ?? null;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Start probing; a group without `check` has nothing to do. */
  start(): void {
    const check = this.#check;
    if (this.#running || check === null) return;
    this.#running = true;
    // a `down` peer is disabled, not failing: never probed (nginx_upstream_check_module skips it too)
    const peers = this.group.peers.filter((p) => this.group.entryOf(p)?.params.down !== true);
    const spacing = check.intervalMs / Math.max(1, peers.length);
    peers.forEach((peer, i) => this.#watch(peer, check, Math.floor(i * spacing) + Math.floor(this.#random() * spacing * 0.5)));
    // `server name resolve`: peers join and leave while running
    this.#unfollow = this.group.onPeersChange((added, removed) => {
      for (const peer of removed) this.#unwatch(peer);
      for (const peer of added) if (this.group.entryOf(peer)?.params.down !== true) this.#watch(peer, check, Math.floor(this.#random() * check.intervalMs));
    });
  }

  /** Probe `peer` from now on: at once when only default_down holds it down, else after `delayMs`. */
  #watch(peer: Peer, check: CheckConfig, delayMs: number): void {
    const schedule: PeerSchedule = { timer: null, inFlight: null };
    this.#schedules.set(peer, schedule);
    if (check.defaultDown && downByDefault(peer)) this.#schedule(peer, schedule, 0, true);
    else this.#schedule(peer, schedule, delayMs);
  }

  /** A peer left the group: its timer and probe stop, its kept connection closes. */
  #unwatch(peer: Peer): void {
    const schedule = this.#schedules.get(peer);
    if (schedule === undefined) return;
    this.#schedules.delete(peer);
    if (schedule.timer !== null) clearTimeout(schedule.timer);
    schedule.inFlight?.abort();
    this.#kept.drop(peer);
  }

  /** Stop probing: timers cleared, probes in flight aborted (their sockets destroyed, results dropped). */
  stop(): void {
    this.#running = false;
    this.#unfollow?.();
    this.#unfollow = null;
    for (const schedule of this.#schedules.values()) {
      if (schedule.timer !== null) clearTimeout(schedule.timer);
      schedule.timer = null;
      schedule.inFlight?.abort();
      schedule.inFlight = null;
    }
    this.#schedules.clear();
    this.#kept.closeAll();
  }

  /** Probe one peer now and apply the verdict (also what the timers run). */
  async checkPeer(peer: Peer): Promise<ProbeResult> {
    const check = this.#check;
    if (check === null) return { ok: true };
    if (peer.retired) {
      this.#kept.drop(peer);
      return { ok: false, reason: 'check aborted' };
    }
    const controller = new AbortController();
    const schedule = this.#schedules.get(peer);
    if (schedule !== undefined) schedule.inFlight = controller;
    const started = performance.now();
    const seen = { status: 0 };
    const result = await probe(peer, check, controller.signal, this.#kept, seen);
    if (schedule !== undefined && schedule.inFlight === controller) schedule.inFlight = null;
    if (!controller.signal.aborted && !peer.retired) {
      peer.lastCheckLatencyMs = Math.round((performance.now() - started) * 1000) / 1000;
      this.#apply(peer, check, result, seen.status);
    }
    return result;
  }

  /** `rising`: probing a default-down peer back to back (see the module comment). */
  #schedule(peer: Peer, schedule: PeerSchedule, delayMs: number, rising = false): void {
    const timer = setTimeout(() => {
      schedule.timer = null;
      if (this.#gate !== null) return void this.#gated(peer, schedule, rising);
      this.#probeScheduled(peer, schedule, rising);
    }, delayMs);
    timer.unref();
    schedule.timer = timer;
  }

  /** health_share: probe only while this process holds the peer's lease; else look again in half an interval. */
  async #gated(peer: Peer, schedule: PeerSchedule, rising: boolean): Promise<void> {
    const mine = await Promise.resolve(this.#gate!(peer)).catch(() => true);
    if (!this.#running || peer.retired || this.#schedules.get(peer) !== schedule) return;
    if (mine) this.#probeScheduled(peer, schedule, rising);
    else this.#schedule(peer, schedule, Math.floor(this.#check!.intervalMs / 2));
  }

  #probeScheduled(peer: Peer, schedule: PeerSchedule, rising: boolean): void {
    const started = Date.now();
    void this.checkPeer(peer).then((result) => {
      if (peer.retired) this.#kept.drop(peer);
      if (!this.#running || peer.retired || this.#schedules.get(peer) !== schedule) return;
      if (rising && result.ok && !peer.healthy) return this.#schedule(peer, schedule, 0, true);
      // start-to-start period is the interval, unless the probe itself took longer
      const elapsed = Date.now() - started;
      this.#schedule(peer, schedule, Math.max(0, this.#check!.intervalMs - elapsed));
    });
  }

  #apply(peer: Peer, check: CheckConfig, result: ProbeResult, status: number): void {
    const now = this.#now();
    peer.checkedAt = now;
    peer.lastCheckResult = checkResultCode(check.type, result, status);
    peer.lastCheckOk = result.ok;
    peer.stats.checks++;
    if (result.ok) {
      peer.riseCount++;
      peer.fallCount = 0;
      if (!peer.healthy && peer.riseCount >= check.rise) {
        peer.healthy = true;
        peer.noteState(true, now);
        this.#log().info(
          { upstream: this.group.name, peer: peer.key },
          `peer ${peer.key} in upstream ${this.group.name} is up`,
        );
        this.#onChange?.(peer);
      }
      return;
    }
    peer.lastError = result.reason;
    peer.fallCount++;
    peer.riseCount = 0;
    if (peer.healthy && peer.fallCount >= check.fall) {
      peer.healthy = false;
      peer.noteState(false, now);
      this.#log().warn(
        { upstream: this.group.name, peer: peer.key, reason: result.reason },
        `peer ${peer.key} in upstream ${this.group.name} is down: ${result.reason}`,
      );
      this.#onChange?.(peer);
    }
  }

  #log(): CheckLogger {
    return this.#logger ?? rootLogger;
  }
}
