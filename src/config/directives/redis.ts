/**
 * Redis (issue 17): `redis NAME { ... }` in the main context names a Redis server; an upstream
 * takes its peers from it (`redis_peers NAME key=TEMPLATE;`, hipache's layout) and may share its
 * health verdicts through it (`health_share NAME;`). `-t` checks the syntax only: nothing here
 * connects (the runtime does, src/core/redis/).
 *
 * The block's lines are read here (a raw block, like map's): `server HOST[:PORT] | unix:/path;`
 * (required), `password SECRET;`, `db N;`, `timeout TIME;` (default 1s).
 */
import type { Directive } from '../ast.js';
import type { BuildState } from './scope.js';
import type { RedisConfig } from '../redis-types.js';
import { parseDuration, parseNumber, parseUpstreamAddress } from '../units.js';
import { err, type Context, type DirectiveSpec, type Reporter } from './scope.js';
import type { UpstreamDraft } from './drafts.js';

const UP: readonly Context[] = ['upstream', 'stream_upstream'];
const DEFAULT_PORT = 6379;
const DEFAULT_TIMEOUT_MS = 1000;

/** The redis blocks one build met, by name (kept beside the BuildState, which they do not concern). */
const blocksOf = new WeakMap<BuildState, Map<string, RedisConfig>>();

/** The `redis` blocks of a build, in file order. */
export function redisBlocks(state: BuildState): ReadonlyMap<string, RedisConfig> {
  return blocksOf.get(state) ?? new Map();
}

function parseBlock(name: string, d: Directive, r: Reporter): RedisConfig | undefined {
  let server: RedisConfig['server'] | null = null;
  let password: string | null = null;
  let db = 0;
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  const seen = new Set<string>();
  for (const line of d.block ?? []) {
    if (line.block !== null) return err(r, 'TSP_ERR_CONFIG_SYNTAX', `directive "${line.name}" is not terminated by ";"`, line.loc);
    if (!['server', 'password', 'db', 'timeout'].includes(line.name)) {
      return err(r, 'TSP_ERR_CONFIG_UNKNOWN_DIRECTIVE', `unknown directive "${line.name}" in redis block`, line.loc);
    }
    if (seen.has(line.name)) return err(r, 'TSP_ERR_CONFIG_DUPLICATE', `"${line.name}" directive is duplicate`, line.loc);
    seen.add(line.name);
    if (line.args.length !== 1) return err(r, 'TSP_ERR_CONFIG_ARGS', `invalid number of arguments in "${line.name}" directive`, line.loc);
    const a = line.args[0]!;
    if (line.name === 'server') {
      const addr = parseUpstreamAddress(a.value, DEFAULT_PORT);
      if (!addr.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', addr.message.replace('upstream', 'redis'), a.loc);
      server = addr.value;
    } else if (line.name === 'password') {
      password = a.value;
    } else if (line.name === 'db') {
      const n = parseNumber(a.value);
      if (n === null || n > 15_000) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid db "${a.value}"`, a.loc);
      db = n;
    } else {
      const ms = parseDuration(a.value, 's');
      if (ms === null || ms === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid timeout "${a.value}"`, a.loc);
      timeoutMs = ms;
    }
  }
  if (server === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `no "server" in redis "${name}"`, d.loc);
  return { name, server, password, db, timeoutMs, loc: d.loc };
}

export const REDIS_DIRECTIVES: DirectiveSpec[] = [
  {
    name: 'redis', contexts: ['main'], args: [1, 1], block: 'map', rawBlock: true, multiple: true,
    syntax: 'redis name { server host[:port] | unix:path; [password secret;] [db number;] [timeout time;] }',
    summary: 'A Redis server upstreams take their peers (`redis_peers`) and share their health (`health_share`) through. `timeout` (default 1s) bounds connecting, each command and the wait of the first request for a key not known yet; `db` selects the database (default 0).',
    note: 'tsproxy-only (issue 17). `tsproxy -t` checks the syntax and does not connect. See "Scaling out with Redis" in the README.',
    apply(scope, d) {
      const r = scope.state.report;
      const name = d.args[0]!;
      let blocks = blocksOf.get(scope.state);
      if (blocks === undefined) blocksOf.set(scope.state, (blocks = new Map()));
      if (blocks.has(name.value)) {
        err(r, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate redis "${name.value}"`, name.loc);
        return null;
      }
      const block = parseBlock(name.value, d, r);
      if (block !== undefined) blocks.set(name.value, block);
      return null;
    },
  },
  {
    name: 'redis_peers', contexts: UP, args: [2, 2], templates: 1,
    syntax: 'redis_peers name key=template;',
    summary: 'The group\'s peers are the Redis list at the key, evaluated per request or connection (`key=frontend:$host`, `key=sni:$ssl_preread_server_name`): entries `host:port`, `http://host:port` or `https://host:port`, each optionally followed by ` weight=N max_fails=N fail_timeout=T max_conns=N backup down`; a first element that is not an address names the group (hipache\'s layout). Each key gets its own group (balancer, passive and active health) and is kept in memory, current through keyspace notifications.',
    note: 'tsproxy-only (issue 17). The upstream has no `server` lines then.',
    apply(scope, d) {
      const r = scope.state.report;
      const up = scope.upstream!;
      const key = d.args[1]!;
      if (!key.value.startsWith('key=') || key.value.length === 4) {
        err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${key.value}" (key=template expected)`, key.loc);
        return;
      }
      up.redisPeers = { redis: d.args[0]!.value, key: key.value.slice(4), loc: d.loc };
    },
  },
  {
    name: 'health_share', contexts: UP, args: [1, 1],
    syntax: 'health_share name;',
    summary: 'Share the group\'s health verdicts through the named `redis` block: one instance at a time probes a peer (a lease taken with `SET key value NX PX`), publishes each state change, and every instance applies it; if the prober stops, another takes the lease within two check intervals. Needs `check`.',
    note: 'tsproxy-only (issue 17).',
    apply(scope, d) {
      scope.upstream!.healthShare = { name: d.args[0]!.value, loc: d.loc };
    },
  },
];

/** Checks that need the whole tree: the names an upstream gives exist; redis_peers is alone. */
export function checkRedisUpstream(state: BuildState, u: UpstreamDraft, r: Reporter): void {
  const blocks = redisBlocks(state);
  if (u.redisPeers !== undefined) {
    if (!blocks.has(u.redisPeers.redis)) r.error('TSP_ERR_CONFIG_REFERENCE', `no redis "${u.redisPeers.redis}" defined`, u.redisPeers.loc);
    if (u.serverDirectives > 0) r.error('TSP_ERR_CONFIG_VALUE', '"redis_peers" and "server" cannot be used in the same upstream', u.redisPeers.loc);
  }
  if (u.healthShare !== undefined && !blocks.has(u.healthShare.name)) {
    r.error('TSP_ERR_CONFIG_REFERENCE', `no redis "${u.healthShare.name}" defined`, u.healthShare.loc);
  }
}
