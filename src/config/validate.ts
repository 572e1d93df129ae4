/**
 * Cross-references, checked once the whole tree is read (upstreams may be declared after use):
 * proxy targets → upstream groups (or implicit `host:port` groups), balancing vs `backup`,
 * listen/server_name conflicts, log format names, unused upstreams.
 */
import type { Loc } from '../errors.js';
import { settingDefaults } from './directives.js';
import { hasSocketOptions } from './directives/listen.js';
import { checkUpstreamResolver } from './directives/resolver.js';
import { checkRedisUpstream } from './directives/redis.js';
import { DEFAULT_LOC, type BuildState, type LocationDraft, type Reporter, type TargetDraft, type UpstreamDraft } from './directives/scope.js';
import type { AccessLogConfig, ListenConfig, ServerName, UpstreamConfig } from './types.js';
import { serverNameText } from './host-names.js';
import { addressKey, parseUpstreamAddress } from './units.js';

export interface Implicit {
  readonly http: UpstreamConfig[];
  readonly stream: UpstreamConfig[];
}

const UPSTREAM_DEFAULTS = settingDefaults('upstream');

export function validateDrafts(state: BuildState, r: Reporter): Implicit {
  const implicit: Implicit = { http: [], stream: [] };
  resolveTargets(state, r, implicit);
  for (const area of [state.http, state.stream]) {
    if (area === null) continue;
    for (const u of area.upstreams) {
      checkUpstream(u, r);
      checkRedisUpstream(state, u, r);
    }
  }
  warnUnused(state, r);
  warnPlainHttpChecks(state, r);
  if (state.http) {
    checkListens(state.http.servers, r, true);
    const formats = new Set(['combined', ...state.http.logFormats.map((f) => f.name)]);
    const buffered = new Map<string, AccessLogConfig>();
    checkLogFormats(state.http.scope.settings.http?.accessLogs, formats, r, buffered);
    for (const s of state.http.servers) {
      checkLogFormats(s.scope.settings.http?.accessLogs, formats, r, buffered);
      checkLocationLogFormats(s.locations, formats, r, buffered);
    }
  }
  if (state.stream) {
    for (const s of state.stream.servers) {
      if (s.listens.length === 0) r.error('TSP_ERR_CONFIG_REFERENCE', 'no "listen" is defined for server', s.loc);
    }
    checkListens(state.stream.servers, r, false);
    checkUdpListens(state.stream.servers, r);
    const formats = new Set(['basic', ...state.stream.logFormats.map((f) => f.name)]);
    const buffered = new Map<string, AccessLogConfig>();
    checkLogFormats(state.stream.scope.settings.stream?.accessLogs, formats, r, buffered);
    for (const s of state.stream.servers) checkLogFormats(s.scope.settings.stream?.accessLogs, formats, r, buffered);
  }
  return implicit;
}

function resolveTargets(state: BuildState, r: Reporter, implicit: Implicit): void {
  const made = { http: new Set<string>(), stream: new Set<string>() };
  for (const t of state.targets) {
    if (t.dynamic) continue;
    const area = t.area === 'http' ? state.http! : state.stream!;
    if (area.upstreamsByName.has(t.upstream)) continue;
    let name = t.upstream.toLowerCase();
    if (!t.hasPort) {
      if (t.area === 'stream' || t.noDefaultPort === true) { r.error('TSP_ERR_CONFIG_REFERENCE', `no port in upstream "${t.upstream}"`, t.loc); continue; }
      // No DNS at build time: a dotless name that is no upstream is a typo, as nginx finds out.
      if (!name.includes('.') && !name.startsWith('[')) { r.error('TSP_ERR_CONFIG_REFERENCE', `host not found in upstream "${t.upstream}"`, t.loc); continue; }
      name = `${name}:${t.scheme === 'https' ? 443 : 80}`;
    }
    const addr = parseUpstreamAddress(name, null);
    if (!addr.ok) { r.error('TSP_ERR_CONFIG_VALUE', addr.message, t.loc); continue; }
    t.upstream = name;
    if (made[t.area].has(name)) continue;
    made[t.area].add(name);
    implicit[t.area].push(implicitUpstream(name, addr.value, t));
  }
}

function implicitUpstream(name: string, target: UpstreamConfig['servers'][number]['target'], t: TargetDraft): UpstreamConfig {
  return {
    name,
    method: { kind: 'round_robin' },
    servers: [{ address: name, target, weight: 1, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, backup: false, down: false, loc: t.loc }],
    check: null,
    keepalive: UPSTREAM_DEFAULTS.keepalive,
    keepaliveTimeoutMs: UPSTREAM_DEFAULTS.keepaliveTimeoutMs,
    keepaliveRequests: UPSTREAM_DEFAULTS.keepaliveRequests,
    keepaliveTimeMs: UPSTREAM_DEFAULTS.keepaliveTimeMs,
    implicit: true,
    loc: t.loc,
  };
}

function checkUpstream(u: UpstreamDraft, r: Reporter): void {
  if (u.serverDirectives === 0 && u.redisPeers === undefined) r.error('TSP_ERR_CONFIG_REFERENCE', 'no servers are inside upstream', u.loc);
  checkUpstreamResolver(u, r);
  const k = u.method.kind;
  if (u.backupLoc !== null && (k === 'hash' || k === 'ip_hash' || k === 'random')) {
    r.error('TSP_ERR_CONFIG_VALUE', 'balancing method does not support parameter "backup"', u.backupLoc);
  }
}

function warnUnused(state: BuildState, r: Reporter): void {
  for (const [areaName, area] of [['http', state.http], ['stream', state.stream]] as const) {
    if (area === null) continue;
    const targets = state.targets.filter((t) => t.area === areaName);
    // A `$variable` target may name any group at run time.
    if (targets.some((t) => t.dynamic)) continue;
    const used = new Set(targets.map((t) => t.upstream));
    for (const u of area.upstreams) {
      if (!used.has(u.name)) r.warn('TSP_ERR_CONFIG_REFERENCE', `upstream "${u.name}" is never used`, u.loc);
    }
  }
}

/** `check type=http` speaks plain HTTP: on a group reached with `proxy_pass https://` it would mark every peer down. */
function warnPlainHttpChecks(state: BuildState, r: Reporter): void {
  if (state.http === null) return;
  const https = new Set<string>();
  for (const t of state.targets) if (t.area === 'http' && t.scheme === 'https' && !t.dynamic) https.add(t.upstream);
  for (const u of state.http.upstreams) {
    if (u.check?.type === 'http' && https.has(u.name)) {
      r.warn('TSP_ERR_CONFIG_VALUE', `"check type=http" does not speak TLS, but upstream "${u.name}" is used with "https://"; use type=tcp or type=ssl_hello`, u.check.loc);
    }
  }
}

/** What the listen checks read of a listen. */
type ListenKey = Pick<ListenConfig, 'key' | 'defaultServer' | 'loc' | 'socket' | 'backlog' | 'reuseport'>;

/** nginx: two default_server on one address is an error; one name twice on an address a warning. */
function checkListens(servers: readonly { listens: readonly ListenConfig[]; serverNames: readonly ServerName[]; loc: Loc }[], r: Reporter, http: boolean): void {
  const defaults = new Set<string>();
  const optioned = new Set<string>();
  // Per address, one set per name kind keyed by the field as parsed: no key string is built per name.
  const names = new Map<string, Record<ServerName['kind'], Set<string>>>();
  const implicitListen: readonly ListenKey[] = [{ key: '0.0.0.0:80', defaultServer: false, loc: DEFAULT_LOC, backlog: null, reuseport: false }];
  for (const s of servers) {
    const listens = s.listens.length > 0 || !http ? s.listens : implicitListen;
    for (let i = 0; i < listens.length; i++) {
      const l = listens[i]!;
      if (listenedBefore(listens, i)) continue;
      if (l.defaultServer) {
        if (defaults.has(l.key)) r.error('TSP_ERR_CONFIG_REFERENCE', `a duplicate default server for ${l.key}`, l.loc);
        defaults.add(l.key);
      }
      if (hasSocketOptions(l)) {
        if (optioned.has(l.key)) r.error('TSP_ERR_CONFIG_DUPLICATE', `duplicate listen options for ${l.key}`, l.loc);
        optioned.add(l.key);
      }
      let sets = names.get(l.key);
      if (sets === undefined) names.set(l.key, (sets = { exact: new Set(), leadingWildcard: new Set(), trailingWildcard: new Set(), regex: new Set() }));
      for (const n of s.serverNames) {
        const set = sets[n.kind];
        const field = n.kind === 'exact' ? n.name : n.kind === 'leadingWildcard' ? n.suffix : n.kind === 'trailingWildcard' ? n.prefix : n.source;
        if (set.has(field)) r.warn('TSP_ERR_CONFIG_REFERENCE', `conflicting server name "${serverNameText(n)}" on ${l.key}, ignored`, n.loc);
        else set.add(field);
      }
    }
  }
}

/**
 * A UDP listen has no name to route by (no SNI, no Host): one server per address, as nginx
 * (`duplicate "127.0.0.1:53" address and port pair`, nginx 1.22); websocket_pass speaks TCP.
 */
function checkUdpListens(servers: readonly { listens: readonly ListenConfig[]; websockets: readonly unknown[] }[], r: Reporter): void {
  const seen = new Set<string>();
  for (const s of servers) {
    for (let i = 0; i < s.listens.length; i++) {
      const l = s.listens[i]!;
      if (l.udp !== true || listenedBefore(s.listens, i)) continue;
      if (seen.has(l.key)) r.error('TSP_ERR_CONFIG_DUPLICATE', `duplicate "${addressKey(l.address)}" address and port pair`, l.loc);
      seen.add(l.key);
      if (s.websockets.length > 0) r.error('TSP_ERR_CONFIG_VALUE', '"websocket_pass" cannot serve a "udp" listen', l.loc);
    }
  }
}

/** A server that lists one address twice is checked once for it (a server has one or two listens). */
function listenedBefore(listens: readonly ListenKey[], i: number): boolean {
  for (let j = 0; j < i; j++) if (listens[j]!.key === listens[i]!.key) return true;
  return false;
}

/**
 * nginx: `unknown log format "x"`. Unlike nginx, a format may be declared after its first use
 * (the whole tree is read first), so include order does not matter. A file's buffer belongs to
 * the file: two buffer=/flush=/gzip settings for one path conflict (nginx's message).
 */
function checkLogFormats(logs: readonly AccessLogConfig[] | undefined, formats: ReadonlySet<string>, r: Reporter, buffered: Map<string, AccessLogConfig>): void {
  if (logs === undefined) return;
  for (const l of logs) {
    if (l.path !== null && !formats.has(l.format)) r.error('TSP_ERR_CONFIG_REFERENCE', `unknown log format "${l.format}"`, l.loc);
    if (l.path === null || l.buffering === undefined) continue;
    const first = buffered.get(l.path);
    if (first === undefined) buffered.set(l.path, l);
    else if (JSON.stringify(first.buffering) !== JSON.stringify(l.buffering)) {
      r.error('TSP_ERR_CONFIG_VALUE', `access_log "${l.path}" already defined with conflicting parameters`, l.loc);
    }
  }
}

function checkLocationLogFormats(locations: readonly LocationDraft[], formats: ReadonlySet<string>, r: Reporter, buffered: Map<string, AccessLogConfig>): void {
  for (const l of locations) {
    checkLogFormats(l.scope.settings.http?.accessLogs, formats, r, buffered);
    if (l.locations.length > 0) checkLocationLogFormats(l.locations, formats, r, buffered);
  }
}
