/**
 * What compiling a config's location plans needs (plan.ts compileLocationPlan): the http {}
 * level compiled once (maps, log formats, zones, scripts), the upstream groups, and the caches of
 * parts many plans share. Made once per build (buildPlanContext), or taken from the running
 * site by a reload that keeps compiled servers (nextPlanContext).
 */
import type { Logger } from 'pino';
import { CacheZoneStats } from '../core/status/server-stats.js';
import type { AccessLogConfig, ClientBodyConfig, HttpConfig, LocationSettings, NextUpstreamCondition, ProxySslConfig } from '../config/types.js';
import { declaredHttpVariables } from '../config/variables.js';
import { TsproxyError } from '../errors.js';
import type { LogSink } from '../log.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { JsModules } from '../core/js/loader.js';
import { headerSetCache, type HeaderSetCache } from './headers.js';
import { compileLogFormats, type LogFormatter } from './log-format.js';
import { CacheZone } from './cache/plan.js';
import { compileMaps, compileTemplate, type CompiledTemplate, type TemplateContext } from './variables.js';
import { bodyReadersOf, type BodyReaders } from './keep-body-plan.js';
import type { KeepBodyPlan } from './kept-body.js';
import type { BodyFilePlan } from './body-file.js';
import type { LimitZones } from './limits.js';
import type { UpstreamTlsContext } from './upstream-tls.js';
import { JsRuntime } from './js/runtime.js';

/** Everything a plan of this config compiles against besides its own location's settings. */
export interface PlanContext {
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly logger: Logger;
  readonly templates: TemplateContext;
  readonly formats: ReadonlyMap<string, LogFormatter>;
  readonly openAccessLog: (path: string, buffering?: AccessLogConfig['buffering']) => LogSink;
  /** One SecureContext per distinct proxy_ssl_* settings object (inherited ones are shared). */
  readonly tlsContexts: Map<ProxySslConfig, UpstreamTlsContext | null>;
  /** Variables whose value comes from the request body, and the log formats that read them. */
  readonly bodyReaders: BodyReaders;
  /** The config's prefix: the default client_body_temp_path is under it. */
  readonly prefix: string;
  readonly limitZones: LimitZones;
  /** The config's scripts (js_import), null without. */
  readonly js: JsRuntime | null;
  readonly cacheZones: ReadonlyMap<string, CacheZone>;
  /** What many plans of this config share (see PlanShared). */
  readonly shared: PlanShared;
  /**
   * While a server's plans compile (HttpSite): the names of the upstream groups they take, so a
   * reload can keep that server's compiled form when those groups are kept.
   */
  readonly groupUse: { names: Set<string> | null };
}

/** The group named `name` for a plan, noted in ctx.groupUse. */
export function groupOf(ctx: PlanContext, name: string): UpstreamGroup | null {
  ctx.groupUse.names?.add(name);
  return ctx.groups.get(name) ?? null;
}

/**
 * Parts of plans that are equal for many locations, made once per config build (issue 18: a
 * 10,000-server config made ~31,000 plans, each with its own copy of the same templates, header
 * sets and empty arrays; half of the build's allocation). Everything here is read-only once made:
 * a plan never changes a template, a set or an array it got.
 */
export interface PlanShared {
  /** Compiled templates by text (a template is a function of the request alone, given the config's maps). */
  readonly templates: Map<string, CompiledTemplate>;
  /** `tc` of every plan: compile through `templates`. */
  readonly tc: (t: string) => CompiledTemplate;
  /** The drop and hide sets of header plans (headers.ts). */
  readonly headerSets: HeaderSetCache;
  /** `index` templates by the settings' array (inherited settings share the array). */
  readonly index: Map<readonly string[], readonly CompiledTemplate[]>;
  /** keepBodyPlan by settings object. */
  readonly keepBody: Map<LocationSettings, KeepBodyPlan | null>;
  /** requestBodyFile by client-body settings (the default's key: null). */
  readonly bodyFile: Map<ClientBodyConfig | null, BodyFilePlan>;
  /** retry statuses by the proxy_next_upstream list. */
  readonly retryStatuses: Map<readonly NextUpstreamCondition[], ReadonlySet<number>>;
}

function planShared(templates: TemplateContext): PlanShared {
  const compiled = new Map<string, CompiledTemplate>();
  return {
    templates: compiled,
    tc: (t) => {
      let c = compiled.get(t);
      if (c === undefined) {
        c = mustCompile('template', () => compileTemplate(t, templates), t);
        compiled.set(t, c);
      }
      return c;
    },
    headerSets: headerSetCache(), index: new Map(), keepBody: new Map(), bodyFile: new Map(), retryStatuses: new Map(),
  };
}

/** Template compile context for a whole http {} (maps, set variables, named captures). */
export function buildPlanContext(
  http: HttpConfig,
  deps: { groups: ReadonlyMap<string, UpstreamGroup>; logger: Logger; openAccessLog(path: string, buffering?: AccessLogConfig['buffering']): LogSink; prefix: string; scripts?: JsModules | null; cacheStats?: ((zone: string) => CacheZoneStats) | null },
): PlanContext {
  const declared = declaredHttpVariables(http);
  let maps = mustCompile('map', () => compileMaps(http.maps, { declared, modules: http }));
  const js = http.js !== undefined && deps.scripts != null ? new JsRuntime(http.js, deps.scripts, deps.logger, declared) : null;
  // js_set / js_var values are computed lazily like `map` ones.
  if (js !== null) maps = new Map([...maps, ...js.variableGetters()]);
  const templates: TemplateContext = { maps, declared };
  js?.useTemplates(templates);
  const formats = mustCompile('log_format', () => compileLogFormats(http.logFormats, templates));
  return {
    groups: deps.groups, logger: deps.logger, templates, formats, openAccessLog: deps.openAccessLog, tlsContexts: new Map(),
    bodyReaders: bodyReadersOf(http), prefix: deps.prefix, js,
    limitZones: {
      req: new Map((http.limitReqZones ?? []).map((z) => [z.name, z])),
      conn: new Map((http.limitConnZones ?? []).map((z) => [z.name, z])),
    },
    cacheZones: new Map((http.cacheZones ?? []).map((z) => [z.name, new CacheZone(z, deps.cacheStats?.(z.name) ?? new CacheZoneStats())])),
    shared: planShared(templates),
    groupUse: { names: null },
  };
}

/**
 * The context of a reload that keeps compiled servers (HttpSiteDeps.keepFrom): the kept one's
 * compiled parts (maps, formats, zones), the new config's groups, and empty caches. The caches
 * (shared templates, header sets, the per-settings plans, TLS contexts) are keyed by the objects
 * of the servers compiled with them: kept across reloads, each would hold every changed server's
 * settings since the start. Plans hold what the caches made, never the caches.
 */
export function nextPlanContext(kept: PlanContext, groups: ReadonlyMap<string, UpstreamGroup>): PlanContext {
  return { ...kept, groups, tlsContexts: new Map(), shared: planShared(kept.templates), groupUse: { names: null } };
}

/**
 * Run a template compiler whose input the config check (config/variables.ts) already accepted: a
 * failure here is a gap in that check, so it fails the load or reload loudly instead of serving
 * with some other template.
 */
export function mustCompile<T>(what: string, compile: () => T, text?: string): T {
  try {
    return compile();
  } catch (err) {
    const name = text === undefined ? what : `${what} "${text}"`;
    throw new TsproxyError('TSP_ERR_CONFIG_VALUE', `${name} cannot be compiled although the config check accepted it: ${(err as Error).message}`, { cause: err });
  }
}
