/**
 * Header rewriting between client and upstream, compiled once per location: which client headers
 * are dropped, which are set (proxy_set_header), the X-Forwarded-* trio, proxy_hide_header /
 * proxy_pass_header on responses, add_header, and proxy_redirect's Location rewriting.
 * Request heads are built as one string of `Name: value\r\n` lines; response fields go to a
 * FieldWriter (the client's transport: HTTP/1.1 text or an HTTP/2 headers object).
 *
 * Upstream Server and Date headers pass through (nginx hides them and adds its own; a proxy
 * that keeps them tells the truth about who answered, and saves a header build per response).
 */
import { ADD_HEADER_STATUSES, HOP_BY_HOP_HEADERS } from '../constants.js';
import type { ExpiresConfig, LocationSettings, ProxyRedirect } from '../config/types.js';
import { appliesExpires, expiresFields } from './file-path.js';
import { headerSafe } from '../wire/head-text.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { ResponseHead } from '../wire/http1-response.js';

export type Getter<R> = (r: R) => string;
export type TemplateCompiler<R> = (template: string) => Getter<R>;

export interface SetOp<R> {
  readonly name: string;
  readonly lname: string;
  readonly get: Getter<R>;
  /** A constant value known at build time (skips the getter call), or null. */
  readonly constant: string | null;
}

/** What the request builder needs from the request besides its head. */
export interface ForwardContext {
  readonly clientAddress: string;
  readonly scheme: string;
  /** $proxy_host: the upstream name, or host:port for implicit groups. */
  readonly proxyHost: string;
}

export interface RequestHeaderPlan<R> {
  /** Lowercased client header names never forwarded as received. */
  readonly drop: ReadonlySet<string>;
  readonly passRequestHeaders: boolean;
  readonly sets: readonly SetOp<R>[];
  /** proxy_set_header Host given (else Host: $proxy_host). */
  readonly hostSet: boolean;
  readonly forwardFor: boolean;
  readonly realIp: boolean;
  readonly forwardProto: boolean;
  /**
   * `proxy_set_header Upgrade ...` (nginx's meaning: this value, whatever the client asked), null
   * to forward only a client's `Upgrade: websocket`.
   */
  readonly upgrade: SetOp<R> | null;
  /** `proxy_set_header Connection ...`: this value (an empty one means our default), or null. */
  readonly connection: SetOp<R> | null;
}

const CONSTANT = /^[^$]*$/;

function compileSet<R>(name: string, value: string, compile: TemplateCompiler<R>): SetOp<R> {
  const constant = CONSTANT.test(value) ? value : null;
  return { name, lname: name.toLowerCase(), get: constant === null ? compile(value) : () => constant, constant };
}

const NO_OPS: readonly never[] = Object.freeze([]);

/**
 * The header-name sets of one config build's plans, by what each is made from (plan.ts keeps one
 * per build): most locations of a config have equal ones (a 10,000-server config made 31,000
 * copies of the same two sets, ~16 MB). A set is never changed once made.
 */
export interface HeaderSetCache {
  readonly drop: Map<string, DropSet>;
  readonly hide: Map<string, ReadonlySet<string>>;
}

interface DropSet {
  readonly drop: ReadonlySet<string>;
  readonly forwardFor: boolean;
  readonly realIp: boolean;
  readonly forwardProto: boolean;
}

export function headerSetCache(): HeaderSetCache {
  return { drop: new Map(), hide: new Map() };
}

/** A proxy_set_header name that goes out last with the framing (upstream-request.ts), or never (framing is always ours). */
function setLast(lname: string): boolean {
  return lname === 'connection' || lname === 'upgrade' || lname === 'content-length' || lname === 'transfer-encoding';
}

export function compileRequestHeaders<R>(settings: LocationSettings, compile: TemplateCompiler<R>, cache: HeaderSetCache = headerSetCache()): RequestHeaderPlan<R> {
  const sets: SetOp<R>[] = [];
  let hostSet = false;
  let upgrade: SetOp<R> | null = null;
  let connection: SetOp<R> | null = null;
  // proxy_request_buffering on: a client's Expect: 100-continue is answered by us (nginx)
  const expect = settings.proxyPassRequestBody && (settings.clientBody?.requestBuffering ?? true);
  const fwd = settings.proxyForwardedHeaders;
  let key = `${expect ? 'e' : '-'}${fwd ? 'f' : '-'}`;
  for (const op of settings.proxySetHeaders) {
    const lname = op.name.toLowerCase();
    // Upgrade and Connection go out last, with the framing (upstream-request.ts); the framing
    // headers are always ours.
    if (lname === 'upgrade') upgrade = compileSet(op.name, op.value, compile);
    if (lname === 'connection') connection = compileSet(op.name, op.value, compile);
    if (setLast(lname)) continue;
    key += `\n${lname}`;
    if (lname === 'host') hostSet = true;
    sets.push(compileSet(op.name, op.value, compile));
  }
  let d = cache.drop.get(key);
  if (d === undefined) cache.drop.set(key, (d = dropSetOf(settings, expect, fwd)));
  return {
    drop: d.drop, passRequestHeaders: settings.proxyPassRequestHeaders, sets: sets.length === 0 ? NO_OPS : sets, hostSet,
    forwardFor: d.forwardFor, realIp: d.realIp, forwardProto: d.forwardProto, upgrade, connection,
  };
}

/** The client header names never forwarded as received, and which X-Forwarded-* headers are ours. */
function dropSetOf(settings: LocationSettings, expect: boolean, fwd: boolean): DropSet {
  const drop = new Set(HOP_BY_HOP_HEADERS);
  // Framing and Host are always written by us, from the parsed values.
  drop.add('content-length');
  drop.add('host');
  if (expect) drop.add('expect');
  for (const op of settings.proxySetHeaders) {
    const lname = op.name.toLowerCase();
    if (!setLast(lname)) drop.add(lname);
  }
  const forwardFor = fwd && !drop.has('x-forwarded-for');
  const realIp = fwd && !drop.has('x-real-ip');
  const forwardProto = fwd && !drop.has('x-forwarded-proto');
  if (forwardFor) drop.add('x-forwarded-for');
  if (realIp) drop.add('x-real-ip');
  if (forwardProto) drop.add('x-forwarded-proto');
  return { drop, forwardFor, realIp, forwardProto };
}

/**
 * The header lines of the upstream request (without the request line, framing, Upgrade and
 * Connection). `r` is what templates read.
 */
export function buildRequestHeaders<R>(plan: RequestHeaderPlan<R>, req: RequestHead, ctx: ForwardContext, r: R): string {
  let out = '';
  if (!plan.hostSet) out = `Host: ${ctx.proxyHost}\r\n`;
  let xff: string | null = null;
  const headers = req.headers;
  const lnames = req.lnames;
  const drop = plan.drop;
  const connection = req.connection;
  if (plan.passRequestHeaders) {
    for (let k = 0; k < lnames.length; k++) {
      const lname = lnames[k]!;
      if (drop.has(lname)) {
        if (lname === 'x-forwarded-for' && plan.forwardFor) xff = xff === null ? headers[2 * k + 1]! : `${xff}, ${headers[2 * k + 1]!}`;
        continue;
      }
      // RFC 9110 §7.6.1: fields named in Connection are hop-by-hop too.
      if (connection.length > 0 && connection.includes(lname)) continue;
      out += `${headers[2 * k]!}: ${headers[2 * k + 1]!}\r\n`;
    }
  }
  if (plan.forwardFor) out += `X-Forwarded-For: ${xff === null || xff === '' ? ctx.clientAddress : `${xff}, ${ctx.clientAddress}`}\r\n`;
  if (plan.realIp) out += `X-Real-IP: ${ctx.clientAddress}\r\n`;
  if (plan.forwardProto) out += `X-Forwarded-Proto: ${ctx.scheme}\r\n`;
  for (const op of plan.sets) {
    const v = op.constant ?? op.get(r);
    // nginx: a header whose value evaluates to "" is not sent.
    if (v !== '') out += `${op.name}: ${headerSafe(v)}\r\n`;
  }
  return out;
}

/** The value of a proxy_set_header op for this request ('' when it evaluates to nothing). */
export function setValue<R>(op: SetOp<R>, r: R): string {
  const v = op.constant ?? op.get(r);
  return v === '' ? v : headerSafe(v);
}

/** $proxy_add_x_forwarded_for: the client's X-Forwarded-For plus its address. */
export function proxyAddXForwardedFor(req: RequestHead, clientAddress: string): string {
  let xff: string | null = null;
  for (let k = 0; k < req.lnames.length; k++) {
    if (req.lnames[k] === 'x-forwarded-for') xff = xff === null ? req.headers[2 * k + 1]! : `${xff}, ${req.headers[2 * k + 1]!}`;
  }
  return xff === null || xff === '' ? clientAddress : `${xff}, ${clientAddress}`;
}

// ---------------------------------------------------------------------------------------------
// responses

interface AddOp<R> extends SetOp<R> {
  readonly always: boolean;
}

interface RedirectRule<R> {
  readonly from: Getter<R>;
  readonly to: Getter<R>;
}

export interface ResponseHeaderPlan<R> {
  /** Lowercased upstream header names not passed to the client. */
  readonly hide: ReadonlySet<string>;
  readonly adds: readonly AddOp<R>[];
  readonly redirects: readonly RedirectRule<R>[];
  /** `expires` (nginx's headers filter, before add_header), null: off. */
  readonly expires: ExpiresConfig | null;
}

export interface RedirectDefaults {
  /** `http://<proxy_pass host><proxy_pass uri>` as nginx's default `proxy_redirect` "from". */
  readonly from: string;
  /** The location prefix nginx's default rule rewrites to. */
  readonly to: string;
}

export function compileResponseHeaders<R>(
  settings: LocationSettings,
  redirectDefault: RedirectDefaults | null,
  compile: TemplateCompiler<R>,
  cache: HeaderSetCache = headerSetCache(),
): ResponseHeaderPlan<R> {
  const key = `${settings.proxyHideHeaders.join('\n')}\0${settings.proxyPassHeaders.join('\n')}`;
  let hide = cache.hide.get(key);
  if (hide === undefined) cache.hide.set(key, (hide = hideSetOf(settings)));
  const adds = settings.addHeaders.length === 0 ? NO_OPS : settings.addHeaders.map((a) => ({ ...compileSet(a.name, a.value, compile), always: a.always }));
  return { hide, adds, redirects: compileRedirects(settings.proxyRedirect, redirectDefault, compile), expires: settings.files?.expires ?? null };
}

/** Upstream header names not passed to the client. */
function hideSetOf(settings: LocationSettings): ReadonlySet<string> {
  const hide = new Set(HOP_BY_HOP_HEADERS);
  // Framing is re-derived for the client side of the exchange.
  hide.add('content-length');
  for (const name of ['x-accel-redirect', 'x-accel-expires', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset']) {
    hide.add(name);
  }
  for (const h of settings.proxyHideHeaders) hide.add(h.toLowerCase());
  for (const h of settings.proxyPassHeaders) {
    const l = h.toLowerCase();
    if (!HOP_BY_HOP_HEADERS.has(l)) hide.delete(l);
  }
  return hide;
}

function compileRedirects<R>(cfg: ProxyRedirect, def: RedirectDefaults | null, compile: TemplateCompiler<R>): readonly RedirectRule<R>[] {
  if (cfg.kind === 'off') return NO_OPS;
  if (cfg.kind === 'default') {
    if (def === null) return NO_OPS;
    const { from, to } = def;
    return [{ from: () => from, to: () => to }];
  }
  return cfg.rules.map((rule) => ({ from: compile(rule.from), to: compile(rule.to) }));
}

/** Receives header fields one by one (a transport's response head, or text lines). */
export interface FieldWriter {
  /** `lname`: the name lowercased, when the caller has it (HTTP/2 sends names lowercased). */
  field(name: string, value: string, lname?: string): void;
  /** Whole `Name: value\r\n` lines as they are (a writer of HTTP/1 text takes them; others get field()). */
  fieldLines?(lines: string): void;
}

/** Fields as `Name: value\r\n` lines. */
export class FieldLines implements FieldWriter {
  text = '';

  field(name: string, value: string): void {
    this.text += `${name}: ${value}\r\n`;
  }

  fieldLines(lines: string): void {
    this.text += lines;
  }
}

/**
 * The fields of the client response: upstream headers minus hidden and Connection-named ones,
 * Location rewritten by proxy_redirect, then add_header.
 */
export function writeResponseHeaders<R>(plan: ResponseHeaderPlan<R>, res: ResponseHead, status: number, r: R, out: FieldWriter, text: string | null = null): void {
  const headers = res.headers;
  const lnames = res.lnames;
  const hide = plan.hide;
  const connection = res.connection;
  // `expires` replaces the upstream's Expires and Cache-Control for the statuses it applies to.
  const expiring = plan.expires !== null && appliesExpires(status);
  // `text`: the head `res` was parsed from, one field line per header in order. Lines passed on
  // unchanged that are already `Name: value\r\n` go out as runs of that text (the bytes field()
  // would write, without joining each name and value again) to a writer that takes lines.
  const raw = text !== null && out.fieldLines !== undefined;
  let pos = raw ? text.indexOf('\n') + 1 : 0;
  let runStart = -1;
  let runEnd = -1;
  for (let k = 0; k < lnames.length; k++) {
    const lineStart = pos;
    const name = headers[2 * k]!;
    const value = headers[2 * k + 1]!;
    // The line is `name: value` CRLF exactly when one space follows the colon and CR LF the value
    // (the parser trimmed the value's blanks, so anything else there is more space or a bare LF);
    // then it ends where that says, and no search for its LF is needed.
    let exact = false;
    if (raw) {
      const crAt = lineStart + name.length + value.length + 2;
      exact = text.charCodeAt(lineStart + name.length + 1) === 0x20 && text.charCodeAt(crAt) === 13 && text.charCodeAt(crAt + 1) === 10;
      pos = exact ? crAt + 2 : text.indexOf('\n', pos) + 1;
    }
    const lname = lnames[k]!;
    if (hide.has(lname)) continue;
    if (expiring && (lname === 'expires' || lname === 'cache-control')) continue;
    if (connection.length > 0 && connection.includes(lname)) continue;
    const rewrite = plan.redirects.length > 0 && (lname === 'location' || lname === 'refresh');
    if (exact && !rewrite) {
      if (lineStart !== runEnd) {
        if (runStart >= 0) out.fieldLines!(text!.slice(runStart, runEnd));
        runStart = lineStart;
      }
      runEnd = pos;
      continue;
    }
    if (runStart >= 0) {
      out.fieldLines!(text!.slice(runStart, runEnd));
      runStart = runEnd = -1;
    }
    out.field(name, rewrite ? rewriteRedirect(plan, value, r) : value, lname);
  }
  if (runStart >= 0) out.fieldLines!(text!.slice(runStart, runEnd));
  writeAddHeaders(plan, status, r, out);
}

/** writeResponseHeaders as `Name: value\r\n` lines. */
export function buildResponseHeaders<R>(plan: ResponseHeaderPlan<R>, res: ResponseHead, status: number, r: R): string {
  const lines = new FieldLines();
  writeResponseHeaders(plan, res, status, r, lines);
  return lines.text;
}

/**
 * `expires` and add_header fields for a response with `status` (also used for locally generated
 * responses); `lastModifiedMs` is what `expires modified` counts from (null: now).
 */
export function writeAddHeaders<R>(plan: ResponseHeaderPlan<R>, status: number, r: R, out: FieldWriter, lastModifiedMs: number | null = null): void {
  if (plan.expires !== null) {
    const fields = expiresFields(plan.expires, status, lastModifiedMs, Date.now());
    if (fields !== null) for (let i = 0; i < fields.length; i += 2) out.field(fields[i]!, fields[i + 1]!);
  }
  if (plan.adds.length === 0) return;
  const ok = ADD_HEADER_STATUSES.has(status);
  for (const a of plan.adds) {
    if (!ok && !a.always) continue;
    const v = a.constant ?? a.get(r);
    if (v !== '') out.field(a.name, headerSafe(v));
  }
}

function rewriteRedirect<R>(plan: ResponseHeaderPlan<R>, value: string, r: R): string {
  for (const rule of plan.redirects) {
    const from = rule.from(r);
    if (from !== '' && value.startsWith(from)) return headerSafe(rule.to(r) + value.slice(from.length));
  }
  return value;
}
