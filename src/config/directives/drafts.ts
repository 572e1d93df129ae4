/**
 * The mutable drafts directive specs fill per block (upstreams, locations, servers, the http and
 * stream areas) before build.ts assembles the typed Config. Split from scope.ts, which
 * re-exports them.
 */
import type { Loc } from '../../errors.js';
import type {
  ListenConfig, LocationMatch, LogFormatConfig, MapConfig, RewriteRule, ServerName, UpstreamServerConfig,
  BalanceMethod, CheckConfig, Template, IfCondition, TryFilesConfig,
} from '../types.js';
import type { GeoConfig, SplitClientsConfig } from '../variable-types.js';
import type { Scope } from './scope.js';
import type { JsFunctionRef, JsFetchConfig, JsPeriodicConfig, JsPreloadConfig, JsSharedDictZoneConfig, JsImportConfig, JsSetConfig, JsVarConfig } from '../js-types.js';
import type { RedisPeersConfig } from '../redis-types.js';

/**
 * The list of a draft that has nothing yet: one array, never written to. A draft's lists start
 * here and grow through `append`, not `push`: a check of 10,000 servers made ~80,000 empty
 * arrays (locations without rewrites, sets or nested locations), and a pushed array keeps 17
 * slots for its first element (one listen, two server names, two upstream servers: ~1.8 MB per
 * field on 10,000 servers). The tree survives the whole load, so every byte of it is copied by
 * the GC and faulted in (HACKING.md, config, "-t speed").
 */
export const NO_ITEMS: readonly never[] = Object.freeze([]);

/**
 * `list` with `item` at its end: while short, a new array of exactly their number (an array
 * literal or concat makes it exact and packed; a spread or a push leaves 16 spare slots; the
 * literals for the common lengths because concat's generic path cost ~20 ms of a 10,000-server
 * `-t`); from 8 on, `list` itself grown, so a list of thousands (an upstream's servers) is not
 * copied at each one.
 */
export function append<T>(list: readonly T[], item: T): readonly T[] {
  switch (list.length) {
    case 0: return [item];
    case 1: return [list[0]!, item];
    case 2: return [list[0]!, list[1]!, item];
    case 3: return [list[0]!, list[1]!, list[2]!, item];
  }
  if (list.length < 8) return list.concat([item]);
  (list as T[]).push(item);
  return list;
}

/** What the js_* directives collect in http {} (directives/js.ts). */
export interface JsDraft {
  readonly imports: JsImportConfig[];
  readonly paths: string[];
  readonly sets: JsSetConfig[];
  readonly vars: JsVarConfig[];
  /** js_content / js_access references, checked against the imports at the end of the walk. */
  readonly refs: JsFunctionRef[];
  fetch: JsFetchConfig;
  readonly sharedZones: JsSharedDictZoneConfig[];
  readonly preloads: JsPreloadConfig[];
  readonly periodics: JsPeriodicConfig[];
}

/** js_access / js_preread / js_filter of stream {} or one stream server (a server's own win). */
export interface StreamJsPhases {
  access?: JsFunctionRef;
  preread?: JsFunctionRef;
  filter?: JsFunctionRef;
}

export interface TargetDraft {
  scheme: 'http' | 'https' | 'tcp';
  upstream: string;
  uri: Template | null;
  dynamic: boolean;
  raw: string;
  loc: Loc;
  /** Whether the host part names a port (then an unknown name becomes an implicit group). */
  hasPort: boolean;
  /** fastcgi_pass: a host without a port is no implicit group (no scheme gives a default port). */
  readonly noDefaultPort?: true;
  readonly area: 'http' | 'stream';
}

/** `check` as written; the check_* settings join it at assembly. */
export type CheckDraft = Omit<CheckConfig, 'httpSend' | 'expectAlive' | 'keepaliveRequests'>;

export interface UpstreamDraft {
  readonly name: string;
  readonly area: 'http' | 'stream';
  method: BalanceMethod;
  methodLoc: Loc | null;
  servers: readonly UpstreamServerConfig[];
  /** `server` directives written, valid or not (an upstream whose servers are all invalid is not "empty"). */
  serverDirectives: number;
  /** Loc of the first `backup` server parameter, checked against the method at the end. */
  backupLoc: Loc | null;
  check: CheckDraft | null;
  /** `redis_peers` (directives/redis.ts); absent: none. */
  redisPeers?: RedisPeersConfig;
  /** `health_share` (directives/redis.ts); absent: none. */
  healthShare?: { readonly name: string; readonly loc: Loc };
  readonly scope: Scope;
  readonly loc: Loc;
}

/** `if`, `break` and `return` inside an if, as written (the if's block is a draft of its own). */
export type RewriteExtraDraft =
  | { readonly kind: 'break'; readonly loc: Loc }
  | { readonly kind: 'return'; readonly code: number; readonly text: Template | null; readonly loc: Loc }
  | { readonly kind: 'if'; readonly condition: IfCondition; readonly draft: LocationDraft; readonly loc: Loc };

export interface LocationDraft {
  readonly match: LocationMatch;
  readonly matchLoc: Loc;
  /** Under which two sibling locations collide (computed once: a server may have hundreds). */
  readonly key: string;
  rewrites: readonly RewriteRule[];
  sets: readonly { variable: string; value: Template; loc: Loc }[];
  proxy: TargetDraft | null;
  websocket: { path: string | null; target: TargetDraft } | null;
  ret: { code: number; text: Template | null; loc: Loc } | null;
  checkStatus: 'html' | 'json' | 'prometheus' | null;
  /** fastcgi_pass (directives/fastcgi.ts); absent when none. */
  fastcgi?: TargetDraft;
  /** stub_status (directives/limits.ts). */
  stubStatus?: boolean;
  /** js_content / js_access (directives/js.ts). */
  jsContent?: JsFunctionRef;
  jsAccess?: JsFunctionRef;
  jsHeaderFilter?: JsFunctionRef;
  jsBodyFilter?: { readonly ref: JsFunctionRef; readonly buffer: boolean };
  locations: readonly LocationDraft[];
  /** `if` / `break` / `return`-in-if in file order; null until the first. */
  extras: RewriteExtraDraft[] | null;
  tryFiles: TryFilesConfig | null;
  internal: boolean;
  readonly scope: Scope;
  readonly loc: Loc;
}

export interface HttpServerDraft {
  listens: readonly ListenConfig[];
  serverNames: readonly ServerName[];
  rewrites: readonly RewriteRule[];
  /** Server-level `set` (rewrite phase before location matching). */
  sets: readonly { variable: string; value: Template; loc: Loc }[];
  ret: { code: number; text: Template | null; loc: Loc } | null;
  locations: readonly LocationDraft[];
  extras: RewriteExtraDraft[] | null;
  tryFiles: TryFilesConfig | null;
  /** `stub_status` at server level: what no location matches gets the status page (nginx). */
  stubStatus?: boolean;
  readonly scope: Scope;
  readonly loc: Loc;
}

export interface StreamServerDraft {
  listens: readonly ListenConfig[];
  serverNames: readonly ServerName[];
  proxy: TargetDraft | null;
  /** `return value;` (stream return module); the later of return / proxy_pass is the handler, as nginx. */
  ret?: string | null;
  readonly websockets: { path: string | null; target: TargetDraft }[];
  /** js_access / js_preread / js_filter set in this server. */
  jsPhases?: StreamJsPhases;
  readonly scope: Scope;
  readonly loc: Loc;
}

export interface AreaDraft {
  readonly upstreams: UpstreamDraft[];
  /** The same drafts by name: duplicate checks and target lookups stay O(1) with 10k upstreams. */
  readonly upstreamsByName: Map<string, UpstreamDraft>;
  readonly logFormats: LogFormatConfig[];
  readonly maps: MapConfig[];
  readonly geo: GeoConfig[];
  readonly splitClients: SplitClientsConfig[];
  readonly scope: Scope;
}
