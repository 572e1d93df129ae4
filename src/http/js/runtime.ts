/**
 * One config's scripting, built with its HttpSite from the modules the snapshot loaded: the
 * js_set / js_var getters (added to the template scope like `map` variables), and per location
 * what it runs (js_content, js_access, the async js_set values to await before its content).
 * A location without js_* has no JsLocationPlan (its requests pay one null check).
 */
import type { Logger } from 'pino';
import type { JsHttpConfig } from '../../config/js-types.js';
import type { LocationConfig, LocationHandler, LocationSettings } from '../../config/types.js';
import { isThenable, JS_SET_TIMEOUT_MS, settleSetValue, variableText } from '../../core/js/js-set.js';
import type { HttpRequest } from '../request.js';
import { compileTemplate, type CompiledTemplate, type Getter, type RequestInfo, type TemplateContext } from '../variables.js';
import { findFunction, type JsFunction, type JsModules } from '../../core/js/loader.js';
import { JsRequest, MODE_ACCESS, MODE_CONTENT, MODE_VARIABLE } from './request.js';
import { fetchSettingsOf, installGlobals, installPreloads, setActiveRequest } from '../../core/js/globals.js';
import { periodicRunnerOf, type PeriodicRunner } from '../../core/js/periodic.js';
import { sharedDicts } from '../../core/js/shared.js';
import { JsFilterPlan } from './filters.js';
import { JsBodyReader } from './body.js';
import { BODY_NONE } from '../request.js';

export interface JsSetBinding {
  readonly variable: string;
  readonly fn: JsFunction;
  readonly nocache: boolean;
  readonly timeoutMs: number;
}

export interface JsLocationPlan {
  readonly runtime: JsRuntime;
  readonly content: JsFunction | null;
  /** js_set variables the location's directives use: awaited before the content phase when they return a Promise. */
  readonly prefetch: readonly JsSetBinding[];
}

/** The script view of a request (one per request, made at the first script call). */
export function jsRequestOf(r: HttpRequest, rt: JsRuntime): JsRequest {
  return (r.js ??= new JsRequest(r, rt));
}

export class JsRuntime {
  readonly logger: Logger;
  readonly #modules: JsModules;
  readonly #sets: readonly JsSetBinding[];
  /** Variables a script may write: js_var ones (and `set` targets, nginx allows those too). */
  readonly writable: ReadonlySet<string>;
  readonly #varValues = new Map<string, CompiledTemplate>();
  #templates: TemplateContext | null = null;
  readonly #readers = new Map<string, CompiledTemplate | null>();
  readonly #periodic: PeriodicRunner | null;

  constructor(js: JsHttpConfig, modules: JsModules, logger: Logger, writable: ReadonlySet<string>) {
    this.logger = logger;
    this.#modules = modules;
    this.#sets = js.sets.map((s) => ({ variable: s.variable, fn: findFunction(modules, s.ref), nocache: s.nocache, timeoutMs: s.timeoutMs ?? JS_SET_TIMEOUT_MS }));
    this.writable = new Set([...writable, ...js.vars.map((v) => v.variable)]);
    for (const v of js.vars) this.#varValues.set(v.variable, compileTemplate(v.value));
    installGlobals('http', js.confPrefix, logger, fetchSettingsOf(js.fetch), sharedDicts(js.sharedZones));
    installPreloads(modules.preloads);
    this.#periodic = periodicRunnerOf(js.periodics, modules, logger);
  }

  /** The config serves now: its js_periodic tasks start (in the workers their affinity names). */
  startPeriodic(): void {
    this.#periodic?.start();
  }

  /** The config is replaced or stopped. */
  stopPeriodic(): void {
    this.#periodic?.stop();
  }

  /** The script view of a request. */
  requestOf(r: HttpRequest): JsRequest {
    return jsRequestOf(r, this);
  }

  /** js_header_filter / js_body_filter of a location (null without either). */
  filterPlan(location: LocationConfig | null): JsFilterPlan | null {
    if (location === null || (location.jsHeaderFilter === undefined && location.jsBodyFilter === undefined)) return null;
    const header = location.jsHeaderFilter === undefined ? null : findFunction(this.#modules, location.jsHeaderFilter);
    const body = location.jsBodyFilter === undefined ? null : findFunction(this.#modules, location.jsBodyFilter.ref);
    return new JsFilterPlan(this, header, body, location.jsBodyFilter?.buffer ?? false);
  }

  /** The js_set and js_var getters by name (without `$`), for the template scope's maps. */
  variableGetters(): Map<string, Getter> {
    const out = new Map<string, Getter>();
    for (const [name, value] of this.#varValues) out.set(name, value);
    for (const s of this.#sets) out.set(s.variable, (c) => this.#runSet(c as HttpRequest, s));
    return out;
  }

  /** The template scope is known once the maps (these getters among them) are compiled. */
  useTemplates(templates: TemplateContext): void {
    this.#templates = templates;
  }

  #runSet(r: HttpRequest, s: JsSetBinding): string {
    const jr = jsRequestOf(r, this);
    const mode = jr.mode;
    jr.mode = MODE_VARIABLE;
    try {
      setActiveRequest(jr);
      const v = s.fn(jr);
      if (isThenable(v)) {
        // Not awaited here (a template is synchronous): the location did not name it (prefetch).
        v.then(undefined, () => {});
        this.logger.error({ code: 'TSP_ERR_JS', variable: s.variable }, `js_set $${s.variable}: the function returned a Promise where the value was needed at once (only the variables a location's directives name are awaited); "" used`);
        return '';
      }
      const text = variableText(v);
      if (!s.nocache) (r.vars ??= new Map()).set(s.variable, text);
      return text;
    } catch (e) {
      jr.fail(e, `js exception in js_set $${s.variable}`);
      return '';
    } finally {
      setActiveRequest(null);
      jr.mode = mode;
    }
  }

  /** r.variables.name: any variable the config could use (`undefined` for an unknown name). */
  readVariable(r: HttpRequest, name: string): string | undefined {
    let reader = this.#readers.get(name);
    if (reader === undefined) {
      try {
        reader = compileTemplate(`\${${name}}`, this.#templates ?? {});
      } catch {
        reader = null;
      }
      this.#readers.set(name, reader);
    }
    return reader === null ? undefined : reader(r as RequestInfo);
  }

  /** What a location runs; null when it has no js_content and uses no js_set variable. */
  locationPlan(location: LocationConfig | null, handler: LocationHandler, settings: LocationSettings): JsLocationPlan | null {
    const content = handler.kind === 'js' ? findFunction(this.#modules, handler.ref) : null;
    let prefetch: JsSetBinding[] = [];
    if (this.#sets.length > 0) {
      // Over-approximated from the location's own directives as written: awaiting one too many is harmless.
      const text = JSON.stringify([location === null ? null : { ...location, locations: [] }, handler, settings]);
      // A nocache value is computed at each use (so never awaited: it must be synchronous).
      prefetch = this.#sets.filter((s) => !s.nocache && new RegExp(`\\$\\{?${s.variable}(?![\\w])`).test(text));
    }
    if (content === null && prefetch.length === 0) return null;
    return { runtime: this, content, prefetch };
  }

  /** js_access's check: the status r.return gave (refused), else 0 (through); a Promise when the function is async. */
  accessCheck(ref: Parameters<typeof findFunction>[1]): (r: HttpRequest) => number | Promise<number> {
    const fn = findFunction(this.#modules, ref);
    return (r) => {
      const jr = jsRequestOf(r, this);
      jr.mode = MODE_ACCESS;
      jr.accessStatus = 0;
      const verdict = (): number => {
        jr.mode = MODE_CONTENT;
        return jr.accessStatus;
      };
      setActiveRequest(jr);
      try {
        const out = fn(jr);
        setActiveRequest(null);
        if (!isThenable(out)) return verdict();
        return Promise.resolve(out).then(verdict, (e: unknown) => {
          jr.fail(e);
          return 500;
        });
      } catch (e) {
        setActiveRequest(null);
        jr.fail(e);
        return 500;
      }
    };
  }

  /** The content phase of a js_content location: the handler answers through r (maybe later). */
  runContent(r: HttpRequest, fn: JsFunction): void {
    const t = r.transport;
    // njs reads the body before the handler: r.requestText then holds it.
    if (r.body !== BODY_NONE && t.readingBody && t.exchange === null) {
      t.exchange = new JsBodyReader(r, (body) => {
        jsRequestOf(r, this).body = body;
        this.#callContent(r, fn);
      });
      return;
    }
    this.#callContent(r, fn);
  }

  #callContent(r: HttpRequest, fn: JsFunction): void {
    const jr = jsRequestOf(r, this);
    jr.mode = MODE_CONTENT;
    setActiveRequest(jr);
    try {
      const out = fn(jr);
      setActiveRequest(null);
      // njs words a rejected handler so (its line carries no stack; ours keeps it after the message)
      if (isThenable(out)) out.then(undefined, (e: unknown) => jr.fail(e, 'js exception: Error: unhandled promise rejection'));
    } catch (e) {
      setActiveRequest(null);
      jr.fail(e);
    }
  }

  /**
   * Before the content phase: compute the location's js_set values, waiting for those that are
   * Promises. Returns null when every value is there now, else a Promise settled when they are
   * (a rejection or timeout is logged and gives "").
   */
  prefetch(r: HttpRequest, plan: JsLocationPlan): Promise<void> | null {
    const jr = jsRequestOf(r, this);
    jr.prefetched = true;
    let waits: Promise<void>[] | null = null;
    for (const s of plan.prefetch) {
      if (r.vars?.has(s.variable) === true) continue;
      jr.mode = MODE_VARIABLE;
      let v: unknown;
      setActiveRequest(jr);
      try {
        v = s.fn(jr);
      } catch (e) {
        jr.fail(e, `js exception in js_set $${s.variable}`);
        v = '';
      }
      setActiveRequest(null);
      if (!isThenable(v)) {
        (r.vars ??= new Map()).set(s.variable, variableText(v));
        continue;
      }
      (waits ??= []).push(this.#settle(r, s, v));
    }
    jr.mode = MODE_CONTENT;
    return waits === null ? null : Promise.all(waits).then(() => undefined);
  }

  #settle(r: HttpRequest, s: JsSetBinding, v: PromiseLike<unknown>): Promise<void> {
    return settleSetValue(s.variable, v, s.timeoutMs, {
      value: (text) => { (r.vars ??= new Map()).set(s.variable, text); },
      timedOut: (message) => jsRequestOf(r, this).logError(message),
      rejected: (e) => jsRequestOf(r, this).fail(e, `js exception in js_set $${s.variable}`, false),
    });
  }
}
