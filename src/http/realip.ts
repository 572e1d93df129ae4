/**
 * nginx realip: when the connection comes from a trusted peer (`set_real_ip_from`), the client
 * address is taken from a request header or from the PROXY protocol header of the connection
 * (`real_ip_header`), compiled once per location into a function.
 */
import net from 'node:net';
import type { RealIpConfig } from '../config/types.js';
import { compileTrustedPeers } from '../core/address-match.js';
import { unmap } from '../wire/ip.js';
import type { RequestHead } from '../wire/http1-request.js';

/** The client address realip settled on; port 0 when the source names none ($remote_port is then empty, as nginx). */
export interface RealIp {
  readonly addr: string;
  readonly port: number;
}

/** null: the peer stays the client (untrusted peer, no usable header). */
export type RealIpResolver = (head: RequestHead, peerAddress: string, proxy: RealIp | null) => RealIp | null;

/**
 * An address as nginx's realip reads it from a header: `a.b.c.d`, `a.b.c.d:port`, a bare IPv6
 * literal or `[v6]:port` (checked with ask-nginx: `X-Real-IP: 10.9.9.9:777` gives
 * $remote_port 777, without a port it is empty). null when it is no address.
 */
function parseAddrPort(text: string): RealIp | null {
  if (net.isIP(text) !== 0) return { addr: unmap(text), port: 0 };
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    port = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  if (net.isIP(host) === 0 || !/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return null;
  return { addr: unmap(host), port: Number(port) };
}

/** null when realip is off (no trusted peers). */
export function compileRealIp(cfg: RealIpConfig | undefined): RealIpResolver | null {
  const trusted = compileTrustedPeers(cfg?.from ?? []);
  if (cfg === undefined || trusted === null) return null;
  const lname = cfg.header.toLowerCase();
  const recursive = cfg.recursive;
  if (lname === 'proxy_protocol') return (_head, peer, pp) => (pp !== null && pp.addr !== '' && trusted(peer) ? { addr: unmap(pp.addr), port: pp.port } : null);
  return (head, peer) => {
    if (!trusted(peer)) return null;
    let value: string | null = null;
    for (let k = 0; k < head.lnames.length; k++) {
      if (head.lnames[k] === lname) value = value === null ? head.headers[2 * k + 1]! : `${value}, ${head.headers[2 * k + 1]!}`;
    }
    if (value === null) return null;
    const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (parts.length === 0) return null;
    // nginx: the last address, or with `real_ip_recursive on` the last one that is not trusted.
    let pick = parts[parts.length - 1]!;
    if (recursive) {
      for (let i = parts.length - 1; i >= 0; i--) {
        pick = parts[i]!;
        const a = parseAddrPort(pick);
        if (a === null || !trusted(a.addr)) break;
      }
    }
    return parseAddrPort(pick);
  };
}
