/**
 * `tsproxy --explain`: one request run through the routing a started tsproxy would use, with a
 * trace sink (http/route-trace.ts) instead of a client socket. The config is built as for a
 * start (buildSnapshot: the same sites, plans and upstream groups), nothing is bound, and the
 * request stops where it would leave the process: the proxy exchange reports the head it would
 * send instead of connecting (proxy.ts), a local answer is recorded by the transport
 * (transport.ts). So the explanation is the routing itself, not a model of it.
 */
import { randomBytes } from 'node:crypto';
import type { Config, ListenConfig } from '../../config/types.js';
import { TsproxyError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { UpstreamPool } from '../../http/pool.js';
import { headLimitsOf } from '../../http/connection-setup.js';
import { serveRequest } from '../../http/phases.js';
import { BODY_NONE, HttpRequest } from '../../http/request.js';
import type { RouteTrace, TraceEvent } from '../../http/route-trace.js';
import type { HttpSite } from '../../http/site.js';
import { normalizeHost, type CompiledLocation, type VirtualHosts } from '../../http/router.js';
import { compileTemplate } from '../../http/variables.js';
import { parseRequestHead } from '../../wire/http1-request.js';
import type { NameChoice } from '../../core/server-names.js';
import { LocalLimits } from '../../core/limits/service.js';
import { PeerRegistry } from '../../upstream/registry.js';
import { LocalSessionZones } from '../../tls/sessions.js';
import { TunnelRegistry } from '../connections.js';
import { buildSnapshot, disposeSnapshot } from '../snapshot.js';
import { proxyContent, type PeerHealth } from './upstream.js';
import { explainStream, streamServer } from './stream.js';
import { blockAt, directiveAt, placeOf, variablesIn, type Sources } from './source.js';
import { ExplainTransport, type LocalAnswer } from './transport.js';
import { EXPLAIN_SCHEMA, type ExplainContent, type ExplainStep, type Explanation } from './types.js';

export { EXPLAIN_SCHEMA, type Explanation } from './types.js';
export type { Sources } from './source.js';

export interface ExplainOptions {
  /** "GET https://shop.example.com:8443/api?x=1" (the method may be left out: GET). */
  readonly request: string;
  /** -H "Name: value", in order. */
  readonly headers: readonly string[];
  readonly from: string | null;
  /** The listen address the connection arrives on ("127.0.0.1:8443", or a port). */
  readonly listen: string | null;
  readonly sni: string | null;
  /** A running instance's check_status JSON, fetched by the caller (null: health unknown). */
  readonly health: PeerHealth | null;
}

/** How long a request may take to reach its answer (try_files and `if -f` wait for the disk). */
const SETTLE_MS = 10_000;

function invalid(message: string): TsproxyError {
  return new TsproxyError('TSP_ERR_EXPLAIN', message);
}

interface ParsedRequest {
  readonly method: string;
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  readonly hostName: string;
  readonly port: number;
  readonly target: string;
}

/** The command line's request: METHOD URL; the target is kept exactly as written (normalizing is the server's job). */
export function parseExplainRequest(text: string): ParsedRequest {
  const parts = text.trim().split(/\s+/);
  const [method, url] = parts.length === 1 ? ['GET', parts[0]!] : parts.length === 2 ? [parts[0]!, parts[1]!] : [null, null];
  const m = url === null ? null : /^(https?):\/\/([^/?#\s]+)([^#\s]*)$/i.exec(url);
  if (method === null || m === null || !/^[A-Z]+$/.test(method)) throw invalid(`--explain wants "METHOD http[s]://host[:port]/path?query", not "${text}"`);
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const authority = m[2]!;
  const pm = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (pm === null) throw invalid(`--explain: invalid host "${authority}"`);
  const port = pm[2] === undefined ? (scheme === 'https' ? 443 : 80) : Number(pm[2]);
  return { method, scheme, authority, hostName: pm[1]!, port, target: m[3] === '' ? '/' : m[3]! };
}

const WILDCARD_HOSTS = new Set(['*', '0.0.0.0', '::', '[::]']);

/** A listen's host without IPv6 brackets ("::1", "*", "127.0.0.1"); null for unix sockets. */
function hostOf(l: ListenConfig): string | null {
  return l.address.kind === 'tcp' ? l.address.host.replace(/^\[(.*)\]$/, '$1') : null;
}

/** The listen socket a connection for `req` reaches (nginx: an address's own listen before a wildcard one on its port). */
function chooseListen(listens: readonly ListenConfig[], req: ParsedRequest, wanted: string | null): { listen: ListenConfig; why: string } {
  let addr: string | null = null;
  let port = req.port;
  if (wanted !== null) {
    const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(wanted);
    if (m === null) throw invalid(`--listen wants ADDRESS:PORT or PORT, not "${wanted}"`);
    addr = m[1] === undefined ? null : m[1].replace(/^\[(.*)\]$/, '$1');
    port = Number(m[2]);
  }
  const onPort = listens.filter((l) => l.address.kind === 'tcp' && l.address.port === port);
  if (onPort.length === 0) {
    const all = listens.map((l) => l.key).join(', ') || 'none';
    throw invalid(`no http or tcp server listens on port ${port} (listens: ${all}); name one with --listen`);
  }
  const at = (l: ListenConfig): string => `listen ${l.key}`;
  if (addr !== null) {
    const own = onPort.find((l) => hostOf(l) === addr);
    if (own !== undefined) return { listen: own, why: `--listen ${wanted}: ${at(own)}` };
    const wild = onPort.find((l) => WILDCARD_HOSTS.has(hostOf(l) ?? ''));
    if (wild !== undefined) return { listen: wild, why: `no listen names ${addr}:${port} itself: the wildcard ${at(wild)} takes the connection` };
    throw invalid(`no http or tcp server listens on ${wanted} (on port ${port}: ${onPort.map((l) => l.key).join(', ')})`);
  }
  if (onPort.length === 1) return { listen: onPort[0]!, why: `the only listen on port ${port}: ${at(onPort[0]!)}` };
  const wild = onPort.find((l) => WILDCARD_HOSTS.has(hostOf(l) ?? '')) ?? onPort[0]!;
  const others = onPort.filter((l) => l !== wild).map((l) => l.key).join(', ');
  return { listen: wild, why: `${onPort.length} listens on port ${port}: ${at(wild)} (a connection to ${others} would reach that one instead: name it with --listen)` };
}

/** What the server-name index chose, in words. */
function serverWhy(why: NameChoice, host: string, vh: VirtualHosts, key: string): string {
  switch (why.how) {
    case 'exact': return `server_name ${why.name === '' ? '""' : why.name} equals the Host`;
    case 'wildcard': return `no exact server_name is "${host}"; the wildcard ${why.name} is the longest that matches`;
    case 'regex': return `no exact or wildcard server_name matches "${host}"; ${why.name} is the first regex (in file order) that does`;
    case 'invalid': return `the Host "${host}" is invalid: answered 400 by the default server`;
    case 'default': {
      const explicit = vh.defaultServer.config.listens.some((l) => l.key === key && l.defaultServer);
      return `no server_name matches "${host}": the default server of ${key} (${explicit ? 'listen ... default_server' : 'the first server listening there'})`;
    }
  }
}

function capturesOf(c: { numbered: ArrayLike<string | undefined>; named: Record<string, string | undefined> | null } | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (c === null) return out;
  for (let i = 1; i < c.numbered.length; i++) out[String(i)] = c.numbered[i] ?? '';
  for (const [k, v] of Object.entries(c.named ?? {})) out[k] = v ?? '';
  return out;
}

function stepsOf(events: readonly TraceEvent[], sources: Sources): ExplainStep[] {
  return events.map((e): ExplainStep => {
    switch (e.kind) {
      case 'locations':
        return {
          kind: 'locations',
          uri: e.uri,
          candidates: e.candidates.map((c) => ({ name: c.location.name, at: placeOf(sources, c.location.config.loc), matched: c.matched, note: c.note })),
          chosen: e.chosen === null ? null : e.chosen.name,
        };
      case 'step':
        return { kind: e.step.kind, at: placeOf(sources, e.step.loc), directive: directiveAt(sources, e.step.loc), matched: e.step.matched, result: e.step.result };
      case 'access':
        return e.run
          ? { kind: 'access', judged: true, note: 'allow/deny and auth_basic judged with the request as given (a refusal shows as the answer)' }
          : { kind: 'access', judged: false, note: 'auth_request / js_access apply: --explain does not run them and goes on as if they allowed the request' };
      case 'limits':
        return { kind: 'limits', note: `${e.zones.join(', ')} would apply (not applied by --explain)` };
      case 'tryFiles':
        return { kind: 'try_files', tested: e.tested, found: e.found };
    }
  });
}

/** The Host header the request carries: the URL's authority, or -H Host. */
function hostHeader(req: ParsedRequest, opts: ExplainOptions): string {
  const h = opts.headers.find((x) => /^host\s*:/i.test(x));
  return h === undefined ? req.authority : h.slice(h.indexOf(':') + 1).trim();
}

function requestPart(req: ParsedRequest, opts: ExplainOptions): Explanation['request'] {
  return {
    method: req.method, scheme: req.scheme, host: hostHeader(req, opts), port: req.port, target: req.target, headers: opts.headers,
    from: opts.from ?? '127.0.0.1', sni: req.scheme === 'https' ? opts.sni ?? req.hostName : null,
  };
}

/** The local address of a connection to `listen` ($server_addr): a wildcard listen is reached on 127.0.0.1. */
function serverAddrOf(listen: ListenConfig): string {
  const h = hostOf(listen);
  return h === null || WILDCARD_HOSTS.has(h) ? '127.0.0.1' : h;
}

/** Why the location search's winner won (locations.ts's rules, in words). */
function winnerWhy(loc: CompiledLocation): string {
  const nested = loc.parent === null ? '' : ` (nested in ${loc.parent.name})`;
  switch (loc.config.match.kind) {
    case 'exact': return `= equals the URI${nested}: it wins at once`;
    case 'prefixNoRegex': return `the longest matching prefix${nested} is ^~: regexes are not tried`;
    case 'prefix': return `the longest matching prefix${nested}, and no regex matched`;
    case 'regex': return `the first regex that matches, in nginx's order${nested}: it wins over the longest prefix`;
    case 'named': return 'a named location';
  }
}

/** Run `opts.request` through `config`'s http routing and say what happened. */
export async function explainRequest(config: Config, sources: Sources, opts: ExplainOptions): Promise<Explanation> {
  const req = parseExplainRequest(opts.request);
  const log: string[] = [];
  const logger = createLogger({ stream: { write: (line: string) => void log.push(String((JSON.parse(line) as { msg?: unknown }).msg ?? line)) }, level: 'info' });
  const pool = new UpstreamPool();
  const snapshot = await buildSnapshot(config, new PeerRegistry(), {
    logger, openAccessLog: () => ({ write: () => {} }), pool, holder: { current: null }, websocketHolder: { current: null },
    tunnels: new TunnelRegistry(), tlsSessions: new LocalSessionZones(randomBytes(32)), limits: new LocalLimits(),
  });
  // The balancers take requests once a snapshot is committed (into this explanation's own registry).
  snapshot.commit();
  try {
    const site = snapshot.http;
    const stream = snapshot.stream;
    const listens = [...snapshot.listens.values()].filter((l) => site?.vhostsFor(l.key) !== undefined || (l.udp !== true && stream?.explainView(l.key) !== null && stream !== null));
    const { listen, why: listenWhy } = chooseListen(listens, req, opts.listen);
    const vhosts = site?.vhostsFor(listen.key);
    if (site !== null && vhosts !== undefined) return await run(site, vhosts, listen, listenWhy, req, sources, opts, log, config);
    // A tcp {} / stream {} listen: the first bytes choose the server (SNI, or a websocket_pass request's Host).
    const view = stream!.explainView(listen.key)!;
    const name = req.scheme === 'https' ? opts.sni ?? req.hostName : view.site.hasWebsocket ? hostHeader(req, opts).replace(/:\d+$/, '') : null;
    const chosen = streamServer(view.site, name).server;
    const ws = snapshot.websocketHttp;
    const wsHosts = ws?.vhostsFor(listen.key);
    if (chosen.routes !== null && ws !== null && wsHosts !== undefined) {
      const why = `${listenWhy}; a tcp server with websocket_pass: its requests are routed by the HTTP engine, by Host and path`;
      return await run(ws, wsHosts, listen, why, req, sources, opts, log, config);
    }
    const e = explainStream(view, {
      listen, listenWhy, name, https: req.scheme === 'https', from: opts.from ?? '127.0.0.1', serverAddr: serverAddrOf(listen), port: req.port,
    }, requestPart(req, opts), sources, opts.health, config.stream ?? null);
    return { ...e, log };
  } finally {
    disposeSnapshot(snapshot, null);
    pool.close();
  }
}

async function run(
  site: HttpSite, vhosts: VirtualHosts, listen: ListenConfig, listenWhy: string, req: ParsedRequest,
  sources: Sources, opts: ExplainOptions, log: string[], config: Config,
): Promise<Explanation> {
  const from = opts.from ?? '127.0.0.1';
  const userHost = opts.headers.find((h) => /^host\s*:/i.test(h));
  const host = hostHeader(req, opts);
  const headText = `${req.method} ${req.target} HTTP/1.1\r\n${userHost === undefined ? `Host: ${host}\r\n` : ''}${opts.headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  const why: NameChoice = { how: 'default', name: '' };
  // The same index the request's post-read phase asks (VirtualHosts.find), with its reason.
  const nameMatch = vhosts.explain(host, why);
  const serverAddr = serverAddrOf(listen);

  let content: ExplainContent | null = null;
  let handler: string | null = null;
  let variables: Record<string, string> = {};
  let request: HttpRequest | null = null;
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const names = variablesIn(blockAt(sources, nameMatch.server.config.loc), config.http ?? null);
  const evaluate = (r: HttpRequest): void => {
    const out: Record<string, string> = {};
    for (const name of names) {
      try {
        out[name] = compileTemplate(`$${name}`, site.templates)(r);
      } catch {
        // a name the block writes that is no variable here (e.g. inside a string of another module)
      }
    }
    variables = out;
  };
  const finish = (c: ExplainContent): void => {
    if (content !== null) return;
    content = c;
    if (request !== null) evaluate(request);
    settle();
  };
  const trace: RouteTrace = {
    events: [],
    content(r, _plan, h) {
      handler = h.kind;
      if (h.kind !== 'fastcgi' && h.kind !== 'js') return false;
      finish({ kind: 'handler', handler: h.kind === 'fastcgi' ? 'fastcgi_pass' : 'js_content', note: `${h.kind === 'fastcgi' ? 'a FastCGI request' : 'a script'} answers: --explain does not run it` });
      return true;
    },
    proxy(r, proxy, group, proxyHost, head, dynamicUri) {
      finish(proxyContent(r, proxy, group, proxyHost, head, dynamicUri, opts.health));
    },
  };
  const t = new ExplainTransport(site, vhosts, { remoteAddr: from, serverAddr, serverPort: req.port }, (answer: LocalAnswer | null) => {
    finish(answer === null ? { kind: 'close' } : { kind: 'answer', status: answer.status, head: answer.head, handler: handler ?? 'before the content phase' });
  });
  const parsed = parseRequestHead(headText, headLimitsOf(vhosts.defaultServer.config));
  if (typeof parsed === 'number') {
    finish({ kind: 'answer', status: parsed, head: [], handler: 'the request head is rejected before routing' });
  } else {
    const r = new HttpRequest(parsed, headText.length, t, 1, BODY_NONE);
    // No TLS handshake happens here: the scheme is the URL's ($https and $ssl_* stay empty).
    if (req.scheme === 'https') (r as { scheme: 'http' | 'https' }).scheme = 'https';
    r.trace = trace;
    request = r;
    serveRequest(r);
  }
  const timer = setTimeout(() => finish({ kind: 'handler', handler: handler ?? 'none', note: `no answer within ${SETTLE_MS} ms` }), SETTLE_MS);
  await settled;
  clearTimeout(timer);

  const r = request as HttpRequest | null;
  const server = r?.server ?? nameMatch.server;
  const events = trace.events;
  const lastSearch = [...events].reverse().find((e) => e.kind === 'locations');
  const finalLocation = r?.plan?.location ?? null;
  const chosenBySearch = lastSearch?.kind === 'locations' && lastSearch.chosen === finalLocation;
  const locationWhy = finalLocation === null ? '' : chosenBySearch ? winnerWhy(finalLocation) : finalLocation.config.match.kind === 'named'
    ? 'a named location, reached by try_files or error_page' : 'reached by an internal redirect (error_page, try_files, index)';
  return {
    schema: EXPLAIN_SCHEMA,
    context: 'http',
    request: requestPart(req, opts),
    listen: { key: listen.key, ssl: listen.ssl, at: placeOf(sources, listen.loc), why: listenWhy + (listen.ssl !== (req.scheme === 'https') ? ` (note: the listen is ${listen.ssl ? '' : 'not '}ssl but the URL is ${req.scheme})` : '') },
    server: {
      name: server.primaryName, at: placeOf(sources, server.config.loc), how: why.how, matchedName: why.name,
      captures: capturesOf(nameMatch.captures), why: serverWhy(why, normalizeHost(host) ?? host, vhosts, listen.key),
    },
    steps: stepsOf(events, sources),
    location: finalLocation === null ? null : { name: finalLocation.name, at: placeOf(sources, finalLocation.config.loc), why: locationWhy },
    content: content!,
    variables,
    log,
  };
}
