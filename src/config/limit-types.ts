/**
 * The limit_req / limit_conn part of the typed tree (re-exported by types.ts). Zones are defined
 * per area (http {} and stream {}); a location or stream server lists the limits it applies.
 */
import type { Loc } from '../errors.js';

/** The levels limit_req_log_level / limit_conn_log_level accept (nginx). */
export type LimitLogLevel = 'info' | 'notice' | 'warn' | 'error';

export interface LimitZoneConfig {
  readonly name: string;
  /** The key template (`$binary_remote_addr`); an empty value is not limited. */
  readonly key: string;
  readonly sizeBytes: number;
  readonly loc: Loc;
}

export interface LimitReqZoneConfig extends LimitZoneConfig {
  /** Requests per second x 1000 (nginx's unit: `30r/m` is 500). */
  readonly rate: number;
}

export interface LimitReqRule {
  readonly zone: string;
  readonly burst: number;
  /** Requests up to which none waits: `delay=N` (default 0), or every one with `nodelay`. */
  readonly delay: number | 'nodelay';
  readonly loc: Loc;
}

export interface LimitConnRule {
  readonly zone: string;
  /** limit_conn zone N. */
  readonly max: number;
  readonly loc: Loc;
}

export interface ConnLimits {
  readonly conn: readonly LimitConnRule[];
  readonly connLogLevel: LimitLogLevel;
  readonly connDryRun: boolean;
}

/** A location's limits; absent from LocationSettings while no level sets any limit directive. */
export interface HttpLimits extends ConnLimits {
  readonly req: readonly LimitReqRule[];
  readonly reqStatus: number;
  readonly reqLogLevel: LimitLogLevel;
  readonly reqDryRun: boolean;
  readonly connStatus: number;
}
