/**
 * limit_req and limit_conn in http (nginx's preaccess phase, after realip, before access):
 * compiled per location when the config is built (LimitsPlan, null for a location without limits,
 * which then pays one null check), applied by phases.ts through applyLimits.
 *
 * The zones are the runtime's LimitService (core/limits/): decided in place in a single process,
 * asked of the primary by a worker, so a request may wait for an answer; and a limit_req delay
 * really waits (a timer), with the request body held meanwhile (LimitWait, a BodyHold). Log lines are nginx's
 * (1.22, checked with a running nginx: fail2ban's nginx-limit-req filter reads them).
 */
import { accountRequest } from './status-accounting.js';
import type { HttpLimits, LimitLogLevel, LimitReqZoneConfig, LimitZoneConfig } from '../config/types.js';
import { CONN_ACQUIRED, type LimitConnCheck } from '../core/limits/limit-conn.js';
import { LIMIT_DECLINED, LIMIT_DELAYED, LIMIT_REJECTED, NO_DELAY, formatExcess, type LimitReqCheck, type LimitReqDecision } from '../core/limits/limit-req.js';
import { zoneEntries, type ConnAnswer, type LimitService } from '../core/limits/service.js';
import { connectionStats } from '../core/connection-stats.js';
import type { HttpRequest } from './request.js';
import { BodyHold } from './suspend.js';
import { requestLogContext } from './upstream-log.js';
import type { CompiledTemplate } from './variables.js';
import type { ErrorLogger } from '../log.js';

interface ReqLimit {
  readonly zone: string;
  readonly key: CompiledTemplate;
  readonly maxEntries: number;
  readonly rate: number;
  readonly burst: number;
  readonly delay: number;
}

interface ConnLimit {
  readonly zone: string;
  readonly key: CompiledTemplate;
  readonly maxEntries: number;
  readonly max: number;
}

export interface LimitsPlan {
  readonly req: readonly ReqLimit[];
  readonly reqStatus: number;
  readonly reqLogLevel: LimitLogLevel;
  /** Delayed requests are logged one level below rejected ones (nginx; info stays info). */
  readonly delayLogLevel: LimitLogLevel;
  readonly reqDryRun: boolean;
  readonly conn: readonly ConnLimit[];
  readonly connStatus: number;
  readonly connLogLevel: LimitLogLevel;
  readonly connDryRun: boolean;
}

/** The zones of an http {}, by name. */
export interface LimitZones {
  readonly req: ReadonlyMap<string, LimitReqZoneConfig>;
  readonly conn: ReadonlyMap<string, LimitZoneConfig>;
}

const ONE_LOWER: Readonly<Record<LimitLogLevel, LimitLogLevel>> = { error: 'warn', warn: 'notice', notice: 'info', info: 'info' };

/** A location's limits, or null when it has none (the config check made sure every zone exists). */
export function compileLimits(limits: HttpLimits | undefined, zones: LimitZones, tc: (t: string) => CompiledTemplate): LimitsPlan | null {
  if (limits === undefined || (limits.req.length === 0 && limits.conn.length === 0)) return null;
  const req: ReqLimit[] = [];
  for (const l of limits.req) {
    const z = zones.req.get(l.zone);
    if (z === undefined) continue;
    req.push({ zone: z.name, key: tc(z.key), maxEntries: zoneEntries(z.sizeBytes), rate: z.rate, burst: l.burst * 1000, delay: l.delay === 'nodelay' ? NO_DELAY : l.delay * 1000 });
  }
  const conn: ConnLimit[] = [];
  for (const l of limits.conn) {
    const z = zones.conn.get(l.zone);
    if (z !== undefined) conn.push({ zone: z.name, key: tc(z.key), maxEntries: zoneEntries(z.sizeBytes), max: l.max });
  }
  return {
    req, reqStatus: limits.reqStatus, reqLogLevel: limits.reqLogLevel, delayLogLevel: ONE_LOWER[limits.reqLogLevel], reqDryRun: limits.reqDryRun,
    conn, connStatus: limits.connStatus, connLogLevel: limits.connLogLevel, connDryRun: limits.connDryRun,
  };
}

/** What applyLimits tells the phase: go on, wait (the limits call `resume` later), or answer this status. */
export const LIMITS_PASS = 0;
export const LIMITS_WAIT = -1;

/** Continues the request after a wait: `status` 0 goes on to the access phase, else answers it. */
export type ResumeLimits = (r: HttpRequest, status: number) => void;

/**
 * The request's limits: limit_req, then limit_conn (nginx runs them in that order). Each runs once
 * per request: a URI changed by rewrite finds its location again, but nginx keeps the first
 * verdict ($limit_req_status is set on the main request).
 */
export function applyLimits(r: HttpRequest, plan: LimitsPlan, resume: ResumeLimits): number {
  if (plan.req.length > 0 && r.limitReqStatus === '') {
    const checks = reqChecks(r, plan);
    const d = r.site.limits.limitReq(checks, reqAnswered, r);
    if (d === null) {
      startWait(r, plan, resume).reqChecks = checks;
      return LIMITS_WAIT;
    }
    const out = onReqDecision(r, plan, checks, d);
    if (out === LIMITS_WAIT) startWait(r, plan, resume);
    if (out !== LIMITS_PASS) return out;
  }
  return applyConnLimits(r, plan, resume);
}

function applyConnLimits(r: HttpRequest, plan: LimitsPlan, resume: ResumeLimits): number {
  if (plan.conn.length === 0 || r.limitConnStatus !== '') return LIMITS_PASS;
  const checks = connChecks(r, plan);
  if (checks === null) return LIMITS_PASS;
  const a = r.site.limits.acquireConn(checks, connAnswered, r);
  if (a === null) {
    r.limitConnPending = checks;
    startWait(r, plan, resume);
    return LIMITS_WAIT;
  }
  return onConnAnswer(r, plan, checks, a);
}

function reqChecks(r: HttpRequest, plan: LimitsPlan): LimitReqCheck[] {
  const checks: LimitReqCheck[] = [];
  for (const l of plan.req) {
    let key = l.key(r);
    // nginx: a key over 65535 bytes is logged and that limit skipped.
    if (key.length > 65535) {
      r.site.logger.error(requestLogContext(r, 'TSP_ERR_LIMITED'), `the value of the "${l.zone}" key is more than 65535 bytes: "${key.slice(0, 256)}"`);
      key = '';
    }
    checks.push({ zone: l.zone, maxEntries: l.maxEntries, rate: l.rate, burst: l.burst, delay: l.delay, key });
  }
  return checks;
}

/** The checks with a key, or null when no limit applies (every key empty: not limited). */
function connChecks(r: HttpRequest, plan: LimitsPlan): LimitConnCheck[] | null {
  let checks: LimitConnCheck[] | null = null;
  for (const l of plan.conn) {
    let key = l.key(r);
    if (key.length > 255) {
      r.site.logger.error(requestLogContext(r, 'TSP_ERR_LIMITED'), `the value of the "${l.zone}" key is more than 255 bytes: "${key}"`);
      key = '';
    }
    (checks ??= []).push({ zone: l.zone, maxEntries: l.maxEntries, max: l.max, key });
  }
  return checks !== null && checks.some((c) => c.key !== '') ? checks : null;
}

/** A line at one of nginx's levels (the site logger is a child of the process's ErrorLogger, custom levels included). */
function logAt(r: HttpRequest, level: LimitLogLevel, ctx: object, msg: string): void {
  (r.site.logger as unknown as ErrorLogger)[level](ctx, msg);
}

/** limit_req's verdict: logs it and says what the request does. */
function onReqDecision(r: HttpRequest, plan: LimitsPlan, checks: readonly LimitReqCheck[], d: LimitReqDecision): number {
  if (d.outcome === LIMIT_DECLINED) return LIMITS_PASS;
  const dry = plan.reqDryRun;
  const zone = checks[d.index]?.zone ?? '';
  if (d.outcome === LIMIT_REJECTED) {
    logAt(r, plan.reqLogLevel, requestLogContext(r, 'TSP_ERR_LIMITED'), `limiting requests${dry ? ', dry run' : ''}, excess: ${formatExcess(d.excess)} by zone "${zone}"`);
    r.limitReqStatus = dry ? 'REJECTED_DRY_RUN' : 'REJECTED';
    return dry ? LIMITS_PASS : plan.reqStatus;
  }
  if (d.outcome !== LIMIT_DELAYED) {
    r.limitReqStatus = 'PASSED';
    return LIMITS_PASS;
  }
  logAt(r, plan.delayLogLevel, requestLogContext(r, 'TSP_ERR_LIMITED'), `delaying request${dry ? ', dry run' : ''}, excess: ${formatExcess(d.excess)}, by zone "${zone}"`);
  r.limitReqStatus = dry ? 'DELAYED_DRY_RUN' : 'DELAYED';
  if (dry) return LIMITS_PASS;
  r.limitDelayMs = d.delayMs;
  return LIMITS_WAIT;
}

function onConnAnswer(r: HttpRequest, plan: LimitsPlan, checks: LimitConnCheck[], a: ConnAnswer): number {
  if (a.refused === CONN_ACQUIRED) {
    r.limitConnStatus = 'PASSED';
    r.limitHold = checks;
    return LIMITS_PASS;
  }
  r.limitHold = null;
  const dry = plan.connDryRun;
  // A full zone refuses without a line of its own (nginx logs its allocation failure only at crit).
  if (!a.zoneFull) logAt(r, plan.connLogLevel, requestLogContext(r, 'TSP_ERR_LIMITED'), `limiting connections${dry ? ', dry run,' : ''} by zone "${checks[a.refused]!.zone}"`);
  r.limitConnStatus = dry ? 'REJECTED_DRY_RUN' : 'REJECTED';
  return dry ? LIMITS_PASS : plan.connStatus;
}

// -----------------------------------------------------------------------------------------------
// waiting: for the primary's answer (workers) or for a limit_req delay

/**
 * The request's exchange while it waits: a BodyHold (suspend.ts: what the client sends of its
 * body is held, the client paused, then handed to the real handler), with what the wait resumes;
 * a client that goes away ends the wait and the request.
 */
export class LimitWait extends BodyHold {
  readonly r: HttpRequest;
  readonly plan: LimitsPlan;
  readonly resume: ResumeLimits;
  timer: NodeJS.Timeout | null = null;
  /** limit_req's checks while the primary decides (for the log line's zone). */
  reqChecks: LimitReqCheck[] | null = null;

  constructor(r: HttpRequest, plan: LimitsPlan, resume: ResumeLimits) {
    super(r.transport);
    this.r = r;
    this.plan = plan;
    this.resume = resume;
  }

  override clientClosed(): void {
    super.clientClosed();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    endRequest(this.r);
  }
}

/** The request's LimitWait (made at its first wait); a limit_req delay arms its timer. */
function startWait(r: HttpRequest, plan: LimitsPlan, resume: ResumeLimits): LimitWait {
  const t = r.transport;
  let wait = waitOf(r);
  if (wait === null) {
    wait = new LimitWait(r, plan, resume);
    t.exchange = wait;
  }
  if (r.limitDelayMs > 0) {
    const ms = r.limitDelayMs;
    r.limitDelayMs = 0;
    wait.timer = setTimeout(delayed, ms, wait);
  }
  return wait;
}

function waitOf(r: HttpRequest): LimitWait | null {
  const ex = r.transport.exchange;
  return ex instanceof LimitWait && ex.r === r && !ex.gone ? ex : null;
}

function delayed(wait: LimitWait): void {
  wait.timer = null;
  if (wait.gone) return;
  continueAfterWait(wait, applyConnLimits(wait.r, wait.plan, wait.resume));
}

function reqAnswered(d: LimitReqDecision, r: HttpRequest): void {
  const wait = waitOf(r);
  if (wait === null || wait.reqChecks === null) return;
  const out = onReqDecision(r, wait.plan, wait.reqChecks, d);
  wait.reqChecks = null;
  if (out === LIMITS_WAIT) {
    startWait(r, wait.plan, wait.resume);
    return;
  }
  continueAfterWait(wait, out === LIMITS_PASS ? applyConnLimits(r, wait.plan, wait.resume) : out);
}

function connAnswered(a: ConnAnswer, r: HttpRequest): void {
  const checks = r.limitConnPending;
  r.limitConnPending = null;
  if (checks === null) return;
  const wait = waitOf(r);
  if (wait === null || r.ended) {
    // The client left while the primary counted it: give the holds back.
    if (a.refused === CONN_ACQUIRED) r.site.limits.releaseConn(checks);
    return;
  }
  continueAfterWait(wait, onConnAnswer(r, wait.plan, checks, a));
}

function continueAfterWait(wait: LimitWait, out: number): void {
  if (out === LIMITS_WAIT) return;
  const r = wait.r;
  const t = r.transport;
  t.exchange = null;
  wait.resume(r, out);
  // Body bytes that came during the wait go to the handler now serving the request.
  wait.handOver(t);
}

// -----------------------------------------------------------------------------------------------
// the request's end

/** The request is over (logged, or its client gone): limit_conn's holds go back, stub_status counts it done. */
export function endRequest(r: HttpRequest): void {
  if (r.ended) return;
  r.ended = true;
  connectionStats.writing--;
  accountRequest(r);
  const hold = r.limitHold;
  if (hold !== null) {
    r.limitHold = null;
    r.site.limits.releaseConn(hold);
  }
}

export type { LimitService };
