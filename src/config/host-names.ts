import type { ServerName } from './types.js';

/**
 * nginx's host-name wildcard rule, shared by `map ... { hostnames; }` in http and stream
 * (server_name tables keep their own compiled form): the longest `*.suffix` entry wins, then the
 * longest `prefix.*` entry. Keys are stored as ".suffix" and "prefix." in the two maps.
 */
export function wildcardLookup<T>(host: string, leading: ReadonlyMap<string, T>, trailing: ReadonlyMap<string, T>): T | undefined {
  for (let dot = host.indexOf('.', 1); dot !== -1 && leading.size > 0; dot = host.indexOf('.', dot + 1)) {
    const v = leading.get(host.slice(dot));
    if (v !== undefined) return v;
  }
  for (let dot = host.lastIndexOf('.', host.length - 2); dot > 0 && trailing.size > 0; dot = host.lastIndexOf('.', dot - 1)) {
    const v = trailing.get(host.slice(0, dot + 1));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** A server_name as written (`*.x`, `x.*`, `~re`), used to identify a server in route keys and logs. */
export function serverNameText(n: ServerName): string {
  switch (n.kind) {
    case 'exact':
      return n.name;
    case 'leadingWildcard':
      return `*${n.suffix}`;
    case 'trailingWildcard':
      return `${n.prefix}*`;
    case 'regex':
      return `~${n.source}`;
  }
}
