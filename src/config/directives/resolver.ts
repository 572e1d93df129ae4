/**
 * `resolver` and `resolver_timeout`: the DNS servers asked at run time, by `server name resolve`
 * in an upstream (upstream/resolve.ts). Contexts as nginx 1.22 (http, server, location; stream,
 * server) plus upstream {} as nginx 1.27.3, where an upstream's own resolver wins over its
 * block's. The messages are nginx 1.22's (checked with ask-nginx).
 */
import { isIP } from 'node:net';
import type { Arg } from '../ast.js';
import { parseDuration, parseNumber } from '../units.js';
import type { ResolverConfig } from '../types.js';
import { DEFAULT_LOC, err, seconds, setting, type Context, type DirectiveSpec, type Reporter, type SettingKind, type UpstreamDraft, type ValueParser } from './scope.js';
import type { OwnOf, ResolverDraft } from './settings.js';

/** "127.0.0.1", "127.0.0.1:5353", "[::1]", "[::1]:53" → the form Resolver.setServers takes; undefined: not an address. */
function nameServer(a: Arg, r: Reporter): string | null | undefined {
  const v = a.value;
  let host = v;
  let port = '53';
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return null;
    host = v.slice(1, end);
    const rest = v.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      port = rest.slice(1);
    }
  } else {
    const colon = v.lastIndexOf(':');
    if (colon >= 0) {
      host = v.slice(0, colon);
      port = v.slice(colon + 1);
    }
  }
  const kind = isIP(host);
  if (kind === 0 || (kind === 6 && !v.startsWith('['))) return null;
  const n = parseNumber(port);
  if (n === null || n === 0 || n > 65535) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid port in resolver "${v}"`, a.loc);
  return kind === 6 ? `[${host}]:${n}` : `${host}:${n}`;
}

const resolver: ValueParser<ResolverDraft | null> = (args, d, r) => {
  const servers: string[] = [];
  let validMs: number | null = null;
  let ipv6 = true;
  for (const a of args) {
    const v = a.value;
    if (v.startsWith('valid=')) {
      const ms = parseDuration(v.slice(6), 's');
      if (ms === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter: ${v}`, a.loc);
      validMs = ms;
    } else if (v.startsWith('ipv6=')) {
      const on = v.slice(5);
      if (on !== 'on' && on !== 'off') return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter: ${v}`, a.loc);
      ipv6 = on === 'on';
    } else if (v.startsWith('status_zone=')) {
      // nginx Plus / 1.27 statistics zone: nothing to count into here
    } else {
      const server = nameServer(a, r);
      if (server === undefined) return undefined;
      // nginx resolves a name here with the system resolver; tsproxy takes addresses only
      if (server === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `host not found in resolver "${v}"`, a.loc);
      servers.push(server);
    }
  }
  if (servers.length === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', 'no name servers defined', d.loc);
  return { servers, validMs, ipv6, loc: d.loc };
};

const DEFAULT_TIMEOUT_MS = 30_000;

function resolverDirectives(contexts: readonly Context[], kind: Exclude<SettingKind, 'main'>): DirectiveSpec[] {
  return [
    setting({
      name: 'resolver', contexts, kind, field: 'resolver', parse: resolver, args: [1, Infinity], initial: null,
      syntax: 'resolver address ... [valid=time] [ipv6=on|off] [status_zone=zone];',
      summary: 'DNS servers (`ip` or `ip:port`, default port 53) that `server name resolve` in an upstream asks while running; an answer is used for its TTL, or for `valid=` when given; `ipv6=off` asks for A records only.',
      note: 'In upstream {} as nginx 1.27.3 (its own resolver wins over the http / stream one). Name servers are IP addresses (nginx also takes a name, resolved at start). `status_zone=` is accepted and ignored.',
    }),
    setting({
      name: 'resolver_timeout', contexts, kind, field: 'resolverTimeoutMs', parse: seconds, default: '30s',
      syntax: 'resolver_timeout time;', summary: 'How long a name may take to resolve.',
    }),
  ];
}

export const RESOLVER_DIRECTIVES: readonly DirectiveSpec[] = [
  ...resolverDirectives(['http', 'server', 'location'], 'http'),
  ...resolverDirectives(['stream', 'stream_server'], 'stream'),
  ...resolverDirectives(['upstream', 'stream_upstream'], 'upstream'),
];

/**
 * The resolver an upstream's `resolve` servers use: the upstream's own, else the one of the http /
 * stream block it is in (nginx 1.27.3); null: none.
 */
export function upstreamResolver(u: UpstreamDraft): ResolverConfig | null {
  const own = u.scope.settings.upstream;
  const area = u.area === 'http' ? u.scope.parent?.settings.http : u.scope.parent?.settings.stream;
  const resolver = own?.resolver ?? area?.resolver ?? null;
  if (resolver === null) return null;
  // resolver_timeout is inherited on its own: the upstream's, else its block's
  return { ...resolver, timeoutMs: own?.resolverTimeoutMs ?? area?.resolverTimeoutMs ?? DEFAULT_TIMEOUT_MS };
}

/** nginx 1.27.3, at config test: a `resolve` server needs a resolver. */
export function checkUpstreamResolver(u: UpstreamDraft, r: Reporter): void {
  if (u.servers.some((s) => s.resolve === true) && upstreamResolver(u) === null) {
    r.error('TSP_ERR_CONFIG_REFERENCE', `no resolver defined to resolve names at run time in upstream "${u.name}"`, u.loc);
  }
}

/** A level's resolver for `proxy_pass http://$var` (LocationSettings.resolver): its own over the inherited one. */
export function mergeResolver(base: ResolverConfig | undefined, own: OwnOf<'http'>): ResolverConfig | undefined {
  if (own.resolver == null && own.resolverTimeoutMs === undefined) return base;
  const resolver = own.resolver ?? base ?? { servers: [], validMs: null, ipv6: true, loc: DEFAULT_LOC };
  return { servers: resolver.servers, validMs: resolver.validMs, ipv6: resolver.ipv6, loc: resolver.loc, timeoutMs: own.resolverTimeoutMs ?? base?.timeoutMs ?? DEFAULT_TIMEOUT_MS };
}
