/**
 * The HTTP side of an upgrade (WebSocket): the upstream answered 101 to the protocol the client
 * asked for, so the client gets the 101 (our header rules applied) and the connection becomes a
 * tunnel (tunnel.ts), registered with the runtime under its route so a reload can close tunnels
 * whose route vanished.
 */
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';
import { FieldLines, writeResponseHeaders } from './headers.js';
import { headerValue } from '../wire/headers.js';
import type { ResponseHead } from '../wire/http1-response.js';
import type { LocationPlan, ProxyPlan } from './plan.js';
import type { UpstreamConn } from './pool.js';
import type { HttpRequest } from './request.js';
import { HttpTunnel, type TunnelClient } from './tunnel.js';

/**
 * Answer the client's upgrade with the upstream's 101 and turn the connection into a tunnel.
 * `peer` stays counted in `group` until the tunnel ends.
 */
export function startHttpTunnel(
  client: TunnelClient,
  up: UpstreamConn,
  group: UpstreamGroup,
  peer: Peer,
  r: HttpRequest,
  plan: LocationPlan,
  proxy: ProxyPlan,
  res: ResponseHead,
  rest: Buffer | null,
): HttpTunnel {
  const attempt = r.upstream?.last ?? null;
  if (attempt !== null) attempt.status = 101;
  // The proxy checked that the 101 names the protocol the client asked for.
  const upgrade = headerValue(res, 'upgrade')!;
  const fields = new FieldLines();
  writeResponseHeaders(plan.resHeaders, res, 101, r, fields);
  const head = `HTTP/1.1 101 Switching Protocols\r\n${fields.text}Upgrade: ${upgrade}\r\nConnection: upgrade\r\n\r\n`;
  r.status = 101;
  r.connectionHeader = 'upgrade';
  r.bytesSent += head.length;
  const route = { kind: 'http', listen: r.transport.vhosts.key, node: plan.location?.config ?? null, upstream: proxy.upstreamName } as const;
  const websocket = upgrade.trim().toLowerCase() === 'websocket';
  // Tunnelled bytes are counted only for an access log line (written when the tunnel ends).
  const logged = plan.accessLogs.length > 0 ? r : null;
  return new HttpTunnel(client, up, group, peer, {
    head, rest, idleTimeoutMs: proxy.tunnelTimeoutMs, route, tunnels: r.site.tunnels, websocket, logged,
  });
}
