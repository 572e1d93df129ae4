/**
 * Assembly of limit_req / limit_conn (directives/limits.ts): a level's HttpLimits, present only
 * when some level of its chain sets a limit directive (other configs keep their shape and hash),
 * and the zones of an area, checked as nginx checks them: one definition per name (a zone is
 * either a limit_req or a limit_conn zone), and every limit names a defined zone.
 */
import { settingDefaults } from './directives.js';
import type { Reporter } from './directives/scope.js';
import type { OwnOf, HttpSettings, StreamSettings } from './directives/settings.js';
import type { HttpLimits, LimitReqZoneConfig, LimitZoneConfig } from './limit-types.js';
import type { HttpServerConfig, LocationConfig, LocationSettings } from './types.js';
import type { StreamServerConfig } from './stream-types.js';

const D = settingDefaults('http');

const DEFAULT_LIMITS: HttpLimits = {
  req: D.limitReqs, reqStatus: D.limitReqStatus, reqLogLevel: D.limitReqLogLevel, reqDryRun: D.limitReqDryRun,
  conn: D.limitConns, connStatus: D.limitConnStatus, connLogLevel: D.limitConnLogLevel, connDryRun: D.limitConnDryRun,
};

/** The limits of a level: the parent's, overlaid with what this level sets. */
export function mergeLimits(base: HttpLimits | undefined, own: OwnOf<'http'>): HttpLimits | undefined {
  if (own.limitReqs === undefined && own.limitReqStatus === undefined && own.limitReqLogLevel === undefined && own.limitReqDryRun === undefined
    && own.limitConns === undefined && own.limitConnStatus === undefined && own.limitConnLogLevel === undefined && own.limitConnDryRun === undefined) return base;
  const b = base ?? DEFAULT_LIMITS;
  return {
    req: own.limitReqs ?? b.req,
    reqStatus: own.limitReqStatus ?? b.reqStatus,
    reqLogLevel: own.limitReqLogLevel ?? b.reqLogLevel,
    reqDryRun: own.limitReqDryRun ?? b.reqDryRun,
    conn: own.limitConns ?? b.conn,
    connStatus: own.limitConnStatus ?? b.connStatus,
    connLogLevel: own.limitConnLogLevel ?? b.connLogLevel,
    connDryRun: own.limitConnDryRun ?? b.connDryRun,
  };
}

/** One definition per zone name in an area, whatever its kind (nginx's shared memory zones). */
function checkZoneNames(reqZones: readonly LimitReqZoneConfig[], connZones: readonly LimitZoneConfig[], r: Reporter): void {
  const seen = new Map<string, { kind: string; key: string }>();
  const note = (z: LimitZoneConfig, kind: string) => {
    const prev = seen.get(z.name);
    if (prev === undefined) seen.set(z.name, { kind, key: z.key });
    else if (prev.kind !== kind) r.error('TSP_ERR_CONFIG_DUPLICATE', `the shared memory zone "${z.name}" is already declared for a different use`, z.loc);
    else r.error('TSP_ERR_CONFIG_DUPLICATE', `${kind} "${z.name}" is already bound to key "${prev.key}"`, z.loc);
  };
  for (const z of reqZones) note(z, 'limit_req_zone');
  for (const z of connZones) note(z, 'limit_conn_zone');
}

function checkRefs(limits: HttpLimits | undefined, req: ReadonlySet<string>, conn: ReadonlySet<string>, r: Reporter, seen: Set<HttpLimits>): void {
  if (limits === undefined || seen.has(limits)) return;
  seen.add(limits);
  for (const l of limits.req) if (!req.has(l.zone)) r.error('TSP_ERR_CONFIG_REFERENCE', `zero size shared memory zone "${l.zone}"`, l.loc);
  for (const l of limits.conn) if (!conn.has(l.zone)) r.error('TSP_ERR_CONFIG_REFERENCE', `zero size shared memory zone "${l.zone}"`, l.loc);
}

/** Every location's settings under `locations`, nested ones included. */
export function walkLocations(locations: readonly LocationConfig[], visit: (s: LocationSettings) => void): void {
  for (const l of locations) {
    visit(l.settings);
    walkLocations(l.locations, visit);
  }
}

/** HttpConfig's zones (present only when defined), after checking names and references. */
export function httpLimitZones(http: HttpSettings, servers: readonly HttpServerConfig[], r: Reporter): { limitReqZones?: readonly LimitReqZoneConfig[]; limitConnZones?: readonly LimitZoneConfig[] } {
  checkZoneNames(http.limitReqZones, http.limitConnZones, r);
  const req = new Set(http.limitReqZones.map((z) => z.name));
  const conn = new Set(http.limitConnZones.map((z) => z.name));
  const seen = new Set<HttpLimits>();
  const visit = (s: LocationSettings) => checkRefs(s.limits, req, conn, r, seen);
  for (const s of servers) {
    visit(s.settings);
    walkLocations(s.locations, visit);
  }
  return {
    ...(http.limitReqZones.length > 0 ? { limitReqZones: http.limitReqZones } : {}),
    ...(http.limitConnZones.length > 0 ? { limitConnZones: http.limitConnZones } : {}),
  };
}

/** StreamConfig's zones (present only when defined), after checking names and references. */
export function streamLimitZones(stream: StreamSettings, servers: readonly StreamServerConfig[], r: Reporter): { limitConnZones?: readonly LimitZoneConfig[] } {
  checkZoneNames([], stream.limitConnZones, r);
  const conn = new Set(stream.limitConnZones.map((z) => z.name));
  for (const s of servers) {
    for (const l of s.limits?.conn ?? []) if (!conn.has(l.zone)) r.error('TSP_ERR_CONFIG_REFERENCE', `zero size shared memory zone "${l.zone}"`, l.loc);
  }
  return stream.limitConnZones.length > 0 ? { limitConnZones: stream.limitConnZones } : {};
}
