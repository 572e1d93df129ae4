import type { ServerName } from './types.js';

/** A server_name as written (`*.x`, `x.*`, `~re`), used to identify a server in route keys, logs and -t messages. */
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
