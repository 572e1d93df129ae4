/**
 * A Redis list as an upstream's servers (hipache's layout, issue 17): `[identifier, backend, ...]`
 * where the first element is an identifier when it is no address, and each backend is
 * `host:port`, `http://host:port` or `https://host:port` (the scheme is dropped: the proxy_pass
 * decides it), optionally followed by nginx's `server` parameters (` weight=2 max_fails=3
 * fail_timeout=5s max_conns=10 backup down`). Pure: parsed when a list changes, never per request.
 */
import type { UpstreamServerConfig } from '../../config/types.js';
import { parseDuration, parseNumber, parseUpstreamAddress } from '../../config/units.js';

const LOC = { file: '<redis list>', line: 0, column: 0 };
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export interface PeerList {
  readonly servers: readonly UpstreamServerConfig[];
  /** Entries that are no address (past the identifier): logged, skipped. */
  readonly invalid: readonly string[];
}

/** `defaultPort`: 80 for http upstreams (an entry may omit it), null for stream (required). */
export function parsePeerList(list: readonly string[], defaultPort: number | null): PeerList {
  const servers: UpstreamServerConfig[] = [];
  const invalid: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const server = parseEntry(list[i]!, defaultPort);
    if (server !== null) servers.push(server);
    else if (i > 0) invalid.push(list[i]!);
    // i === 0: hipache's identifier
  }
  return { servers, invalid };
}

function parseEntry(entry: string, defaultPort: number | null): UpstreamServerConfig | null {
  const words = entry.trim().split(/\s+/);
  const first = words[0] ?? '';
  let address = first.replace(SCHEME, '');
  if (address.endsWith('/')) address = address.slice(0, -1);
  if (address === '' || (!SCHEME.test(first) && !/^(unix:|\[|[A-Za-z0-9.-]+:\d+$)/.test(address))) return null;
  const parsed = parseUpstreamAddress(address, defaultPort);
  if (!parsed.ok) return null;
  let weight = 1, maxFails = 1, failTimeoutMs = 10_000, maxConns = 0, backup = false, down = false;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    const n = eq < 0 ? null : key === 'fail_timeout' ? parseDuration(w.slice(eq + 1), 's') : parseNumber(w.slice(eq + 1));
    if (key === 'weight' && n !== null && n > 0) weight = n;
    else if (key === 'max_fails' && n !== null) maxFails = n;
    else if (key === 'fail_timeout' && n !== null) failTimeoutMs = n;
    else if (key === 'max_conns' && n !== null) maxConns = n;
    else if (w === 'backup') backup = true;
    else if (w === 'down') down = true;
    else return null;
  }
  return { address, target: parsed.value, weight, maxFails, failTimeoutMs, maxConns, backup, down, loc: LOC };
}
