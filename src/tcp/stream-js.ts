/**
 * njs scripting in stream {} (ngx_stream_js_module): the js_set / js_var getters of the
 * session's variables, and the js_access / js_preread phases a server runs. Built once per
 * config from the modules the snapshot loaded (core/js/loader.ts); a server without js_* has
 * no StreamJsPlan (its sessions pay one null check). The session object scripts see is
 * JsSession (stream-js-session.ts).
 */
import type { Logger } from 'pino';
import type { JsFunctionRef, JsHttpConfig } from '../config/js-types.js';
import type { StreamServerConfig } from '../config/stream-types.js';
import { findFunction, type JsFunction, type JsModules } from '../core/js/loader.js';
import { fetchSettingsOf, installGlobals, installPreloads } from '../core/js/globals.js';
import type { FetchSettings } from '../core/js/fetch.js';
import { periodicRunnerOf, type PeriodicRunner } from '../core/js/periodic.js';
import { sharedDicts } from '../core/js/shared.js';
import { preread } from '../tls/preread.js';
import { isThenable, JS_SET_TIMEOUT_MS, settleSetValue, variableText } from '../core/js/js-set.js';
import type { Session, SessionState } from './stream-session.js';
import type { UdpSession } from './udp-session.js';
import { compileStreamTemplate, type SessionInfo, type StreamTemplateContext, type Variable } from './stream-vars.js';
import type net from 'node:net';
import { Tunnel, type TunnelOptions } from '../core/tunnel.js';
import { JsSession, VERDICT_NONE, type FilterSink, type SessionLink } from './stream-js-session.js';

/** What a server runs: its js_access, js_preread and js_filter functions (null: none). */
export interface StreamJsPlan {
  readonly access: JsFunction | null;
  readonly preread: JsFunction | null;
  readonly filter: JsFunction | null;
  /** js_set variables the server's directives use: awaited (when Promises) before its proxy_pass / return. */
  readonly prefetch: readonly StreamSetBinding[];
}

export interface StreamSetBinding {
  readonly variable: string;
  readonly fn: JsFunction;
  readonly timeoutMs: number;
}

/**
 * The tunnel of a js_filter session: each piece (and each FIN, as flags.last) goes through the
 * direction's handler, which passes on what it sends. A direction without a handler flows as is.
 * Only js_filter sessions make one: other tunnels keep Tunnel's own path.
 */
export class FilterTunnel extends Tunnel implements FilterSink {
  readonly #js: JsSession;

  constructor(js: JsSession, client: net.Socket, upstream: net.Socket, o: TunnelOptions, onEnd: (t: Tunnel) => void) {
    super(client, upstream, o, onEnd);
    this.#js = js;
  }

  override fromClient(chunk: Buffer): void {
    if (!this.#js.filter(true, chunk, false)) super.fromClient(chunk);
  }

  override fromUpstream(chunk: Buffer): void {
    if (!this.#js.filter(false, chunk, false)) super.fromUpstream(chunk);
  }

  override clientFin(): void {
    this.#js.filter(true, EMPTY, true);
    super.clientFin();
  }

  override upstreamFin(): void {
    this.#js.filter(false, EMPTY, true);
    super.upstreamFin();
  }

  passUp(bytes: Buffer): void {
    if (bytes.length > 0) super.fromClient(bytes);
  }

  passDown(bytes: Buffer): void {
    if (bytes.length > 0) super.fromUpstream(bytes);
  }
}

const EMPTY = Buffer.alloc(0);

/** The end of a phase: 0 to go on, else the status the session closes with (403 denied, 500 failed). */
export interface PhaseOutcome {
  readonly status: number;
  /** The bytes read so far (they go to the upstream). */
  readonly buffer: Buffer;
}

export class StreamScripts implements SessionLink {
  readonly logger: Logger;
  readonly #modules: JsModules;
  readonly #js: JsHttpConfig;
  /** Variables scripts may write: js_var ones. */
  readonly writable: ReadonlySet<string>;
  #templates: StreamTemplateContext | null = null;
  readonly #readers = new Map<string, Variable | null>();
  readonly #plans = new Map<StreamServerConfig, StreamJsPlan>();
  /** js_periodic's tasks: started when the config serves, stopped when it is replaced (null: none). */
  readonly periodic: PeriodicRunner | null;
  /** The js_set variables that may be awaited (not `nocache`: those are computed at each use). */
  readonly #sets: readonly StreamSetBinding[];
  /** stream {}'s js_fetch_* (ngx.fetch called while a stream script runs). */
  readonly fetchSettings: FetchSettings;

  /** `globals`: whether stream {} alone has scripts (else http {} sets ngx's process-wide parts too). */
  constructor(js: JsHttpConfig, modules: JsModules, logger: Logger, globals: boolean) {
    this.logger = logger;
    this.#modules = modules;
    this.#js = js;
    this.writable = new Set(js.vars.map((v) => v.variable));
    this.#sets = js.sets.filter((s) => !s.nocache).map((s) => ({ variable: s.variable, fn: findFunction(modules, s.ref), timeoutMs: s.timeoutMs ?? JS_SET_TIMEOUT_MS }));
    this.fetchSettings = fetchSettingsOf(js.fetch);
    installGlobals('stream', js.confPrefix, logger, this.fetchSettings, sharedDicts(js.sharedZones), globals);
    if (globals) installPreloads(modules.preloads);
    this.periodic = periodicRunnerOf(js.periodics, modules, logger);
  }

  #fn(ref: JsFunctionRef | undefined): JsFunction | null {
    return ref === undefined ? null : findFunction(this.#modules, ref);
  }

  /** The server's plan (null without js_access / js_preread / js_filter and without a js_set variable its directives name). */
  planOf(config: StreamServerConfig): StreamJsPlan | null {
    let plan = this.#plans.get(config);
    if (plan !== undefined) return plan;
    const js = config.js;
    // Over-approximated from the server's directives as written: awaiting one too many is harmless.
    const text = this.#sets.length === 0 ? '' : JSON.stringify({ ...config, js: undefined });
    const prefetch = this.#sets.filter((s) => new RegExp(`\\$\\{?${s.variable}(?![\\w])`).test(text));
    if (prefetch.length === 0 && (js === undefined || (js.access === undefined && js.preread === undefined && js.filter === undefined))) return null;
    plan = { access: this.#fn(js?.access), preread: this.#fn(js?.preread), filter: this.#fn(js?.filter), prefetch };
    this.#plans.set(config, plan);
    return plan;
  }

  /** prefetch, then whether the session goes on (false: its client left meanwhile). */
  ready(s: SessionState, plan: StreamJsPlan): boolean | Promise<boolean> {
    const waits = this.prefetch(s, plan);
    return waits === null ? !s.gone : waits.then(() => !s.gone);
  }

  /**
   * Before the server's content (proxy_pass, return): compute its js_set values, waiting for those
   * that are Promises (beyond njs). Null when every value is there now, else a Promise settled when
   * they are (a rejection or timeout is logged and gives "").
   */
  prefetch(s: SessionState, plan: StreamJsPlan): Promise<void> | null {
    let waits: Promise<void>[] | null = null;
    for (const b of plan.prefetch) {
      if (s.vars?.has(b.variable) === true) continue;
      const js = this.sessionOf(s);
      let v: unknown;
      try {
        v = js.call(b.fn);
      } catch (e) {
        js.fail(e, `js exception in js_set $${b.variable}`);
        v = '';
      }
      if (!isThenable(v)) {
        (s.vars ??= new Map()).set(b.variable, variableText(v));
        continue;
      }
      (waits ??= []).push(settleSetValue(b.variable, v, b.timeoutMs, {
        value: (text) => { (s.vars ??= new Map()).set(b.variable, text); },
        timedOut: (message) => js.logError(message),
        rejected: (e) => js.fail(e, `js exception in js_set $${b.variable}`),
      }));
    }
    return waits === null ? null : Promise.all(waits).then(() => undefined);
  }

  /** The js_set and js_var getters by name (without `$`), joined to the stream template scope's maps. */
  addVariables(maps: Map<string, Variable>): void {
    for (const v of this.#js.vars) {
      const name = v.variable;
      let initial: Variable | null = null;
      // Compiled at first use: the value may name maps and js_set variables compiled after it.
      maps.set(name, (c) => c.vars?.get(name) ?? (initial ??= compileStreamTemplate(v.value, this.#templates ?? undefined))(c));
    }
    for (const s of this.#js.sets) {
      const fn = findFunction(this.#modules, s.ref);
      const name = s.variable;
      const nocache = s.nocache;
      maps.set(name, (c) => {
        const cached = nocache ? undefined : c.vars?.get(name);
        if (cached !== undefined) return cached;
        const js = this.sessionOf(c as SessionState);
        let text = '';
        try {
          const v = js.call(fn);
          if (isThenable(v)) {
            v.then(undefined, () => {});
            js.logError(`js_set $${name}: the function returned a Promise where the value was needed at once (only the variables a server's directives name are awaited); "" used`);
          } else text = variableText(v);
        } catch (e) {
          js.fail(e, `js exception in js_set $${name}`);
        }
        if (!nocache) (c.vars ??= new Map()).set(name, text);
        return text;
      });
    }
  }

  /** The template scope, known once the maps (these getters among them) are compiled. */
  useTemplates(templates: StreamTemplateContext): void {
    this.#templates = templates;
  }

  /** s.variables.name: any variable the stream config could use (undefined for an unknown name). */
  readVariable(s: SessionInfo, name: string): string | undefined {
    let reader = this.#readers.get(name);
    if (reader === undefined) {
      try {
        reader = compileStreamTemplate(`\${${name}}`, this.#templates ?? undefined);
      } catch {
        reader = null;
      }
      this.#readers.set(name, reader);
    }
    return reader === null ? undefined : reader(s);
  }

  /** js_filter: the session's tunnel, its data through the script's handlers (the first piece, the preread bytes, too). */
  filterTunnel(s: Session, fn: JsFunction, upstream: net.Socket, o: TunnelOptions, onEnd: (t: Tunnel) => void): FilterTunnel | null {
    const js = this.sessionOf(s);
    const tunnel = new FilterTunnel(js, s.socket, upstream, o, onEnd);
    return js.startFilter(fn, tunnel) ? tunnel : null;
  }

  /**
   * A phase's function runs: its status when it decided (or failed) at once or in its Promise,
   * null when its `upload` handler waits for the client's data.
   */
  async #startPhase(js: JsSession, fn: JsFunction): Promise<number | null> {
    js.startPhase();
    let out: unknown;
    try {
      out = js.call(fn);
    } catch (e) {
      js.fail(e);
      return 500;
    }
    if (js.verdict === VERDICT_NONE && isThenable(out)) {
      try {
        await out;
      } catch (e) {
        js.fail(e);
        return 500;
      }
    }
    return js.verdict === VERDICT_NONE && js.hasUpload() ? null : js.endPhase();
  }

  /**
   * A UDP session's js_access, js_preread, js_set values and js_filter, as nginx + njs 0.7.9 run
   * them (checked with nginx): a phase's `upload` handler gets the session's first datagram
   * (`flags.last` false) and must decide on it; no verdict then ends the session as nginx's
   * "preread buffer full" (400: the client's next datagram starts a new session). js_filter's
   * handlers then get each datagram (upload) and each answer (download); what they `s.send()` goes
   * on as datagrams, and a datagram they do not send is dropped. Returns 0 to go on, else the status.
   */
  async datagramPhases(s: UdpSession, plan: StreamJsPlan): Promise<number> {
    const js = this.sessionOf(s);
    for (let phase = 0; phase < 2; phase++) {
      const fn = phase === 0 ? plan.access : plan.preread;
      if (fn === null) continue;
      let status = await this.#startPhase(js, fn);
      if (s.gone) return 0;
      if (status === null) {
        js.feedUpload(s.firstDatagram(), false);
        if (js.verdict === VERDICT_NONE) {
          js.endPhase();
          this.logger.error(s.errorContext(), 'preread buffer full while prereading client data');
          return 400;
        }
        status = js.endPhase();
      }
      if (status !== 0) return status;
    }
    const waits = this.prefetch(s, plan);
    if (waits !== null) await waits;
    if (plan.filter !== null && !s.gone) {
      if (!js.startFilter(plan.filter, s)) return 500;
      s.filter = js;
    }
    return 0;
  }

  /** The script view of a session (one per session, made at the first script call). */
  sessionOf(s: SessionState): JsSession {
    return (s.js ??= new JsSession(s, this));
  }

  /**
   * Run js_access or js_preread: the function decides at once (allow / deny / done / decline, or
   * nothing: the next handler's turn), or later: after a Promise, or after reading the client's
   * bytes for its `upload` handler (at most `timeoutMs`, preread_timeout, and `bufferBytes`,
   * preread_buffer_size: past it nginx's "preread buffer full", 400).
   */
  async runPhase(s: Session, fn: JsFunction, buffer: Buffer, timeoutMs: number, bufferBytes: number): Promise<PhaseOutcome> {
    const js = this.sessionOf(s);
    const decided = await this.#startPhase(js, fn);
    if (decided !== null) return { status: decided, buffer };
    let fed = 0;
    const r = await preread(s.socket, buffer, timeoutMs, (b) => {
      if (b.length > fed) {
        const chunk = b.subarray(fed);
        fed = b.length;
        js.feedUpload(chunk, false);
      }
      if (js.verdict !== VERDICT_NONE || !js.hasUpload()) return true;
      // still undecided with preread_buffer_size read: nginx gives up ("preread buffer full")
      return b.length >= bufferBytes ? false : undefined;
    });
    if (r.kind === 'done' && !r.value) {
      js.endPhase();
      this.logger.error(s.errorContext(), 'preread buffer full while prereading client data');
      return { status: 400, buffer: r.buffer };
    }
    if (r.kind === 'closed') {
      // The client's FIN: the handler sees the last (empty) piece, as njs gives it.
      js.feedUpload(r.buffer.subarray(fed), true);
      if (js.verdict === VERDICT_NONE) return { status: 200, buffer: r.buffer };
    }
    if (r.kind === 'timeout') return { status: 200, buffer: r.buffer };
    return { status: js.endPhase(), buffer: r.buffer };
  }
}
