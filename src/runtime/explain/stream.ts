/**
 * --explain for a tcp {} / stream {} listen: the server the first bytes choose (the SNI of a TLS
 * ClientHello read ahead, or a websocket_pass request's Host; else the listen's default server),
 * its allow/deny and limits, and where its proxy_pass goes. The lookups are the stream site's own
 * (its server-name index, upstreamNameOf, its groups and hash keys); a websocket_pass server's
 * requests are explained by the HTTP engine that serves them (explain.ts).
 */
import type { NameChoice } from '../../core/server-names.js';
import type { ListenConfig } from '../../config/types.js';
import { SessionState } from '../../tcp/stream-session.js';
import { upstreamNameOf, type CompiledServer, type ListenSite } from '../../tcp/stream-compile.js';
import type { SessionInfo } from '../../tcp/stream-vars.js';
import { compileStreamTemplate } from '../../tcp/stream-vars.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import { blockAt, placeOf, variablesIn, type Sources } from './source.js';
import { methodText, peersOf, retryOrder, type PeerHealth } from './upstream.js';
import type { ExplainContent, ExplainStep, Explanation } from './types.js';

/** A session with no socket: the addresses the explanation was given. */
class ExplainSession extends SessionState {}

export interface StreamView {
  readonly site: ListenSite;
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
}

/**
 * The server a connection's first bytes choose, as StreamSite#serve does: `name` is the SNI (or
 * the Host of an HTTP request on a websocket_pass listen), null when nothing names one.
 */
export function streamServer(site: ListenSite, name: string | null): { server: CompiledServer; why: NameChoice; whyText: string } {
  const why: NameChoice = { how: 'default', name: '' };
  if (!site.peek) return { server: site.defaultServer, why, whyText: 'the only server of this listen: nothing is read ahead to choose' };
  const server = site.names.explain(name, why).server;
  const asked = name === null ? 'no name (not TLS, not an HTTP request)' : `"${name}"`;
  const whyText = why.how === 'default' ? `no server_name matches ${asked}: the default server of ${site.key}`
    : `server_name ${why.name} (${why.how}) matches ${asked}`;
  return { server, why, whyText };
}

export interface StreamRequest {
  readonly listen: ListenConfig;
  readonly listenWhy: string;
  readonly name: string | null;
  readonly https: boolean;
  readonly from: string;
  readonly serverAddr: string;
  readonly port: number;
}

export function explainStream(
  view: StreamView, q: StreamRequest, request: Explanation['request'], sources: Sources, health: PeerHealth | null, vars: Parameters<typeof variablesIn>[1],
): Explanation {
  const { server, why, whyText } = streamServer(view.site, q.name);
  const s = new ExplainSession(view.site, q.from, 50000, q.serverAddr, q.port);
  s.server = server;
  if (q.https) s.sslPrereadServerName = q.name;
  else s.host = q.name;
  const steps: ExplainStep[] = [];
  let content: ExplainContent;
  if (server.limits !== null) steps.push({ kind: 'limits', note: 'limit_conn applies to this server (not applied by --explain)' });
  const allowed = server.access(s.remoteAddress);
  if (server.config.accessRules.length > 0) steps.push({ kind: 'access', judged: true, note: allowed ? `allow/deny let ${q.from} in` : `allow/deny refuse ${q.from}: "access forbidden by rule", the connection is closed` });
  const upstream = allowed ? upstreamNameOf(server, s) : null;
  if (!allowed) content = { kind: 'close' };
  else if (server.ret !== null) content = { kind: 'handler', handler: 'return', note: `sends "${server.ret(s)}" and closes` };
  else if (upstream === null) content = { kind: 'handler', handler: 'none', note: 'no proxy_pass: the session ends (500)' };
  else {
    const group = view.groups.get(upstream);
    if (group === undefined) {
      content = { kind: 'handler', handler: 'proxy_pass', note: `"${upstream}" is no upstream group: resolved when a session connects` };
    } else {
      const hashKey = view.hashKeys.get(group.name)?.(s) ?? null;
      content = {
        kind: 'stream', group: group.config.name, method: methodText(group.config.method), peers: peersOf(group, 'stream', health),
        order: retryOrder(group, s.remoteAddress, hashKey, server.retry.tries), dynamic: server.dynamicTarget === null ? null : upstream,
        proxyProtocol: server.config.proxyProtocolVersion, tls: server.upstreamTls !== null,
      };
    }
  }
  const variables: Record<string, string> = {};
  for (const name of ['remote_addr', 'server_port', 'ssl_preread_server_name', ...variablesIn(blockAt(sources, server.config.loc), vars).filter((v) => !['host', 'uri', 'args', 'request_uri', 'scheme', 'server_name'].includes(v))]) {
    try {
      variables[name] = compileStreamTemplate(`$${name}`)(s);
    } catch {
      // a map of the stream block (its values are the stream site's own), or no stream variable
    }
  }
  return {
    schema: 'tsproxy-explain/1',
    context: 'stream',
    request,
    listen: { key: q.listen.key, ssl: q.listen.ssl, at: placeOf(sources, q.listen.loc), why: q.listenWhy },
    server: { name: server.name, at: placeOf(sources, server.config.loc), how: why.how, matchedName: why.name, captures: {}, why: whyText },
    steps,
    location: null,
    content,
    variables,
    log: [],
  };
}
