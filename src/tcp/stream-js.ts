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
import { installGlobals, installPreloads } from '../core/js/globals.js';
import { sharedDicts } from '../core/js/shared.js';
import { preread } from '../tls/preread.js';
import type { Session, SessionState } from './stream-session.js';
import { compileStreamTemplate, type SessionInfo, type StreamTemplateContext, type Variable } from './stream-vars.js';
import type net from 'node:net';
import { Tunnel, type TunnelOptions } from '../core/tunnel.js';
import { JsSession, VERDICT_NONE, type FilterSink, type SessionLink } from './stream-js-session.js';

/** What a server runs: its js_access, js_preread and js_filter functions (null: none). */
export interface StreamJsPlan {
  readonly access: JsFunction | null;
  readonly preread: JsFunction | null;
  readonly filter: JsFunction | null;
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

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** njs's conversion of a js_set result. */
function variableText(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
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

  /** `globals`: whether this config's stream {} sets ngx's globals (http {} does when it has scripts too). */
  constructor(js: JsHttpConfig, modules: JsModules, logger: Logger, globals: boolean) {
    this.logger = logger;
    this.#modules = modules;
    this.#js = js;
    this.writable = new Set(js.vars.map((v) => v.variable));
    if (globals) {
      installGlobals(js.confPrefix, logger, { ...js.fetch, trustedCertificate: null }, sharedDicts(js.sharedZones));
      installPreloads(modules.preloads);
    }
  }

  #fn(ref: JsFunctionRef | undefined): JsFunction | null {
    return ref === undefined ? null : findFunction(this.#modules, ref);
  }

  /** The server's plan (null without js_access / js_preread). */
  planOf(config: StreamServerConfig): StreamJsPlan | null {
    const js = config.js;
    if (js === undefined || (js.access === undefined && js.preread === undefined && js.filter === undefined)) return null;
    let plan = this.#plans.get(config);
    if (plan === undefined) this.#plans.set(config, (plan = { access: this.#fn(js.access), preread: this.#fn(js.preread), filter: this.#fn(js.filter) }));
    return plan;
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
          const v = fn(js);
          if (isThenable(v)) {
            v.then(undefined, () => {});
            js.logError(`js_set $${name}: the function returned a Promise (stream js_set values are synchronous); "" used`);
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

  /** The script view of a session (one per session, made at the first script call). */
  sessionOf(s: SessionState): JsSession {
    return (s.js ??= new JsSession(s, this));
  }

  /**
   * Run js_access or js_preread: the function decides at once (allow / deny / done / decline, or
   * nothing: the next handler's turn), or later: after a Promise, or after reading the client's
   * bytes for its `upload` handler (at most `timeoutMs`, preread_timeout).
   */
  async runPhase(s: Session, fn: JsFunction, buffer: Buffer, timeoutMs: number): Promise<PhaseOutcome> {
    const js = this.sessionOf(s);
    js.startPhase();
    let out: unknown;
    try {
      out = fn(js);
    } catch (e) {
      js.fail(e);
      return { status: 500, buffer };
    }
    if (js.verdict !== VERDICT_NONE) return { status: js.endPhase(), buffer };
    if (isThenable(out)) {
      try {
        await out;
      } catch (e) {
        js.fail(e);
        return { status: 500, buffer };
      }
      if (js.verdict !== VERDICT_NONE || !js.hasUpload()) return { status: js.endPhase(), buffer };
    } else if (!js.hasUpload()) return { status: js.endPhase(), buffer };
    let fed = 0;
    const r = await preread(s.socket, buffer, timeoutMs, (b) => {
      if (b.length > fed) {
        const chunk = b.subarray(fed);
        fed = b.length;
        js.feedUpload(chunk, false);
      }
      return js.verdict === VERDICT_NONE && js.hasUpload() ? undefined : true;
    });
    if (r.kind === 'closed') {
      // The client's FIN: the handler sees the last (empty) piece, as njs gives it.
      js.feedUpload(r.buffer.subarray(fed), true);
      if (js.verdict === VERDICT_NONE) return { status: 200, buffer: r.buffer };
    }
    if (r.kind === 'timeout') return { status: 200, buffer: r.buffer };
    return { status: js.endPhase(), buffer: r.buffer };
  }
}
