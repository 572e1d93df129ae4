/**
 * Writes a hosting-platform-sized config: N server blocks (default 10,000), each with a name,
 * a wildcard alias, two locations and an upstream of two peers; every tenth server also has a
 * regex location (1,000 of them for 10,000 servers: issue 18's "10,000 server_names and 1,000
 * regex locations"). Used by bench/config-test.sh to time `tsproxy -t` against `nginx -t` on the
 * same file, and by bench/big-config.ts (bigConfigText) to serve through it.
 *   tsx bench/gen-config.ts OUT.conf [N] [--nginx]
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface BigConfigOptions {
  /** Server blocks (each with its own upstream). */
  readonly servers: number;
  /** Every `regexEvery`-th server gets a regex location (0: none). */
  readonly regexEvery?: number;
  /** The listen address of every server. */
  readonly listen?: string;
  /** Text put at the top of the http block (access_log off, keepalive_requests, ...). */
  readonly httpPrelude?: string;
  /** Text put at the top level before the http block (pid, error_log, worker_processes, ...). */
  readonly mainPrelude?: string;
  /** Server `target`'s upstream goes to 127.0.0.1:`backendPort` (the others name ports nobody listens on). */
  readonly target?: { readonly index: number; readonly backendPort: number; readonly generation?: number };
}

/** The name of server `i` (its first server_name). */
export const serverName = (i: number): string => `site${i}.example.test`;

/** One server block and its upstream; `backend`: the port of the target's upstream. */
export function serverBlock(i: number, o: BigConfigOptions, backendPort: number | null): string {
  const a = 10_000 + (i % 50_000);
  const peers = backendPort === null ? `server 127.0.0.1:${a};\n        server 127.0.0.1:${a + 1} backup;` : `server 127.0.0.1:${backendPort};\n        keepalive 64;`;
  const regex = o.regexEvery !== undefined && o.regexEvery > 0 && i % o.regexEvery === 0
    ? `        location ~ ^/api/v[0-9]+/items/([0-9]+)$ {\n            return 200 "item $1 of site ${i}";\n        }\n`
    : '';
  const proxyExtra = backendPort === null ? '' : '            proxy_http_version 1.1;\n            proxy_set_header Connection "";\n';
  const generation = o.target !== undefined && o.target.index === i ? `        location = /generation {\n            return 200 "generation ${o.target.generation ?? 0}";\n        }\n` : '';
  return (
    `    upstream site${i} {\n        ${peers}\n    }\n` +
    `    server {\n        listen ${o.listen ?? '127.0.0.1:8080'};\n        server_name ${serverName(i)} *.site${i}.example.test;\n` +
    `        location / {\n            proxy_set_header Host $host;\n${proxyExtra}            proxy_pass http://site${i};\n        }\n` +
    `        location /static/ {\n            return 200 "site ${i}";\n        }\n${regex}${generation}    }\n`
  );
}

export function bigConfigText(o: BigConfigOptions): string {
  const parts: string[] = [o.mainPrelude ?? '', 'events { worker_connections 1024; }\n', 'http {\n', o.httpPrelude ?? ''];
  for (let i = 0; i < o.servers; i++) parts.push(serverBlock(i, o, o.target?.index === i ? o.target.backendPort : null));
  parts.push('}\n');
  return parts.join('');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [out, nArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (out === undefined) {
    process.stderr.write('usage: tsx bench/gen-config.ts OUT.conf [N] [--nginx]\n');
    process.exit(2);
  }
  const n = Number(nArg ?? 10_000);
  fs.writeFileSync(out, bigConfigText({ servers: n, regexEvery: 10 }));
  process.stderr.write(`wrote ${out}: ${n} servers, ${Math.ceil(n / 10)} regex locations\n`);
}
