/**
 * limit_conn in stream {} (ngx_stream_limit_conn_module, preaccess phase: after realip, before
 * allow/deny): at most N connections per key of a zone. The zones are the runtime's LimitService
 * (core/limits/), shared with http's limit_conn code; a session's holds go back when it ends.
 * Log line as nginx 1.22's ("limiting connections by zone "s" while initializing session").
 */
import type { ConnLimits, LimitLogLevel, LimitZoneConfig } from '../config/types.js';
import { CONN_ACQUIRED, type LimitConnCheck } from '../core/limits/limit-conn.js';
import { zoneEntries, type ConnAnswer, type LimitService } from '../core/limits/service.js';
import type { ErrorLogger } from '../log.js';
import type { Variable } from './stream-vars.js';
import type { SessionState } from './stream-session.js';

interface StreamConnLimit {
  readonly zone: string;
  readonly key: Variable;
  readonly maxEntries: number;
  readonly max: number;
}

export interface StreamLimitsPlan {
  readonly conn: readonly StreamConnLimit[];
  readonly logLevel: LimitLogLevel;
  readonly dryRun: boolean;
}

/** A stream server's limit_conn, null without any (the config check made sure every zone exists). */
export function compileStreamLimits(
  limits: ConnLimits | undefined, zones: readonly LimitZoneConfig[] | undefined, compile: (t: string) => Variable,
): StreamLimitsPlan | null {
  if (limits === undefined || limits.conn.length === 0) return null;
  const conn: StreamConnLimit[] = [];
  for (const l of limits.conn) {
    const z = zones?.find((zone) => zone.name === l.zone);
    if (z !== undefined) conn.push({ zone: z.name, key: compile(z.key), maxEntries: zoneEntries(z.sizeBytes), max: l.max });
  }
  return { conn, logLevel: limits.connLogLevel, dryRun: limits.connDryRun };
}

/** Whether the session goes on (a refused one is to be closed with status 503). */
export async function applyStreamLimits(s: SessionState, plan: StreamLimitsPlan, service: LimitService, logger: ErrorLogger): Promise<boolean> {
  const checks: LimitConnCheck[] = [];
  for (const l of plan.conn) {
    const key = l.key(s);
    checks.push({ zone: l.zone, maxEntries: l.maxEntries, max: l.max, key: key.length > 255 ? '' : key });
  }
  if (!checks.some((c) => c.key !== '')) return true;
  const answer = await acquire(service, checks);
  if (answer.refused === CONN_ACQUIRED) {
    s.limitConnStatus = 'PASSED';
    // A client gone while the primary counted: its session has ended, give the holds back now.
    if (s.gone) service.releaseConn(checks);
    else s.limitHold = checks;
    return true;
  }
  if (!answer.zoneFull) {
    logger[plan.logLevel](
      s.errorContext(),
      `limiting connections${plan.dryRun ? ', dry run,' : ''} by zone "${checks[answer.refused]!.zone}" while initializing session`,
    );
  }
  s.limitConnStatus = plan.dryRun ? 'REJECTED_DRY_RUN' : 'REJECTED';
  return plan.dryRun;
}

/** The answer now (zones in this process), or when the primary gives it. */
function acquire(service: LimitService, checks: readonly LimitConnCheck[]): ConnAnswer | Promise<ConnAnswer> {
  let resolve: ((a: ConnAnswer) => void) | null = null;
  const now = service.acquireConn(checks, (a: ConnAnswer) => resolve?.(a), null);
  return now ?? new Promise<ConnAnswer>((r) => {
    resolve = r;
  });
}

/** The session ended: its holds go back. */
export function releaseStreamLimits(s: SessionState, service: LimitService): void {
  const hold = s.limitHold;
  if (hold === null) return;
  s.limitHold = null;
  service.releaseConn(hold);
}
