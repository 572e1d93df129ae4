/**
 * limit_req (http) and limit_conn (http and stream): the zones, the limits a location or stream
 * server applies, and their status / log level / dry-run settings. Values and nginx's -t
 * messages only (checked with nginx 1.22); core/limits/ counts, http/limits.ts and the stream
 * site apply them.
 */
import type { Arg } from '../ast.js';
import type { LimitConnRule, LimitLogLevel, LimitReqRule, LimitReqZoneConfig, LimitZoneConfig } from '../limit-types.js';
import { parseNumber, parseSize } from '../units.js';
import {
  err, flag, invalidParameter, listSetting, oneOf, ownSettings, setting,
  type Context, type DirectiveSpec, type Reporter, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
const STREAM: readonly Context[] = ['stream', 'stream_server'];
const LEVELS: readonly LimitLogLevel[] = ['info', 'notice', 'warn', 'error'];
/** nginx refuses a zone smaller than 8 pages. */
const MIN_ZONE_BYTES = 8 * 4096;

/** `zone=name:size` of limit_req_zone / limit_conn_zone. */
function zoneArg(a: Arg, r: Reporter): { name: string; sizeBytes: number } | undefined {
  const v = a.value.slice('zone='.length);
  const colon = v.lastIndexOf(':');
  const sizeBytes = colon < 0 ? null : parseSize(v.slice(colon + 1));
  if (colon <= 0 || sizeBytes === null || sizeBytes === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid zone size "${a.value}"`, a.loc);
  if (sizeBytes < MIN_ZONE_BYTES) return err(r, 'TSP_ERR_CONFIG_VALUE', `zone "${a.value}" is too small`, a.loc);
  return { name: v.slice(0, colon), sizeBytes };
}

/** `rate=Nr/s | Nr/m` as nginx keeps it: requests per second x 1000 (`r/m` divided by 60, truncated). */
function rateArg(a: Arg, r: Reporter): number | undefined {
  let v = a.value.slice('rate='.length);
  let scale = 1;
  if (v.endsWith('r/s')) v = v.slice(0, -3);
  else if (v.endsWith('r/m')) {
    v = v.slice(0, -3);
    scale = 60;
  }
  const n = parseNumber(v);
  if (n === null || n <= 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid rate "${a.value}"`, a.loc);
  return Math.trunc((n * 1000) / scale);
}

const reqZone: ValueParser<LimitReqZoneConfig> = (args, d, r) => {
  let zone: { name: string; sizeBytes: number } | undefined;
  let rate = 0;
  for (const a of args.slice(1)) {
    if (a.value.startsWith('zone=')) {
      zone = zoneArg(a, r);
      if (zone === undefined) return undefined;
    } else if (a.value.startsWith('rate=')) {
      const v = rateArg(a, r);
      if (v === undefined) return undefined;
      rate = v;
    } else if (a.value !== 'sync' || a !== args[3]) {
      return invalidParameter(r, a);
    }
  }
  if (zone === undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" must have "zone" parameter`, d.loc);
  if (rate === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `no rate is defined for zone "${zone.name}"`, d.loc);
  return { ...zone, key: args[0]!.value, rate, loc: d.loc };
};

const connZone: ValueParser<LimitZoneConfig> = (args, d, r) => {
  const a = args[1]!;
  if (!a.value.startsWith('zone=')) return invalidParameter(r, a);
  const zone = zoneArg(a, r);
  return zone === undefined ? undefined : { ...zone, key: args[0]!.value, loc: d.loc };
};

/** A positive whole number of a `name=N` parameter, else nginx's "invalid <what> value". */
function positiveParam(a: Arg, prefix: string, what: string, r: Reporter): number | undefined {
  const n = parseNumber(a.value.slice(prefix.length));
  return n === null || n <= 0 ? err(r, 'TSP_ERR_CONFIG_VALUE', `invalid ${what} value "${a.value}"`, a.loc) : n;
}

const limitReq: ValueParser<LimitReqRule> = (args, d, r) => {
  let zone = '';
  let burst = 0;
  let delay: LimitReqRule['delay'] = 0;
  for (const a of args) {
    const v = a.value;
    if (v.startsWith('zone=')) zone = v.slice('zone='.length);
    else if (v.startsWith('burst=')) {
      const n = positiveParam(a, 'burst=', 'burst', r);
      if (n === undefined) return undefined;
      burst = n;
    } else if (v.startsWith('delay=')) {
      const n = positiveParam(a, 'delay=', 'delay', r);
      if (n === undefined) return undefined;
      delay = n;
    } else if (v === 'nodelay') delay = 'nodelay';
    else return invalidParameter(r, a);
  }
  if (zone === '') return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" must have "zone" parameter`, d.loc);
  return { zone, burst, delay, loc: d.loc };
};

const limitConn: ValueParser<LimitConnRule> = (args, d, r) => {
  const a = args[1]!;
  const n = parseNumber(a.value);
  if (n === null || n <= 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid number of connections "${a.value}"`, a.loc);
  if (n > 65535) return err(r, 'TSP_ERR_CONFIG_VALUE', 'connection limit must be less 65536', a.loc);
  return { zone: args[0]!.value, max: n, loc: d.loc };
};

const status: ValueParser<number> = (args, d, r) => {
  const n = parseNumber(args[0]!.value);
  return n === null || n < 400 || n > 599 ? err(r, 'TSP_ERR_CONFIG_VALUE', 'value must be between 400 and 599', args[0]!.loc) : n;
};

const level: ValueParser<LimitLogLevel> = oneOf(LEVELS);

/** nginx refuses a second limit of the same zone at one level (`"limit_req" directive is duplicate`). */
function noDuplicateZone(spec: DirectiveSpec, kind: 'http' | 'stream', field: 'limitReqs' | 'limitConns'): DirectiveSpec {
  return {
    ...spec,
    apply(scope, d) {
      const zone = field === 'limitReqs' ? d.args.find((a) => a.value.startsWith('zone='))?.value.slice('zone='.length) : d.args[0]!.value;
      const own = kind === 'http' ? ownSettings(scope, 'http')[field] : field === 'limitConns' ? ownSettings(scope, 'stream').limitConns : undefined;
      if (own?.some((l) => l.zone === zone)) {
        err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc);
        return;
      }
      spec.apply(scope, d);
    },
  };
}

const REQ_NOTE = 'With worker processes a zone is one zone: the primary process keeps it and workers ask it over IPC (HACKING.md).';

function connDirectives(contexts: readonly Context[], kind: 'http' | 'stream'): DirectiveSpec[] {
  const zoneContexts: readonly Context[] = kind === 'http' ? ['http'] : ['stream'];
  return [
    listSetting({
      name: 'limit_conn_zone', contexts: zoneContexts, kind, field: 'limitConnZones', parse: connZone, args: [2, 2], templates: 0,
      syntax: 'limit_conn_zone key zone=name:size;',
      summary: kind === 'http' ? 'A zone counting requests in progress per key (an empty key is not counted).' : 'A zone counting connections per key (an empty key is not counted).',
      note: 'The size bounds the number of keys (about 128 bytes each, as nginx); a new key in a full zone is refused. ' + REQ_NOTE,
    }),
    noDuplicateZone(listSetting({
      name: 'limit_conn', contexts, kind, field: 'limitConns', parse: limitConn, args: [2, 2],
      syntax: 'limit_conn zone number;',
      summary: kind === 'http'
        ? 'At most `number` requests in progress per key of the zone (each HTTP/2 stream counts); others get limit_conn_status.'
        : 'At most `number` connections per key of the zone; others are closed.',
    }), kind, 'limitConns'),
    setting({
      name: 'limit_conn_log_level', contexts, kind, field: 'limitConnLogLevel', parse: level, default: 'error',
      syntax: 'limit_conn_log_level info | notice | warn | error;', summary: 'Level of the "limiting connections" error-log line.',
    }),
    setting({
      name: 'limit_conn_dry_run', contexts, kind, field: 'limitConnDryRun', parse: flag, default: 'off',
      syntax: 'limit_conn_dry_run on | off;', summary: 'Count and log, but refuse nothing ($limit_conn_status says REJECTED_DRY_RUN).',
    }),
  ];
}

export const LIMIT_DIRECTIVES: readonly DirectiveSpec[] = [
  listSetting({
    name: 'limit_req_zone', contexts: ['http'], kind: 'http', field: 'limitReqZones', parse: reqZone, args: [3, 4], templates: 0,
    syntax: 'limit_req_zone key zone=name:size rate=rate [sync];',
    summary: 'A zone of request rates per key (`rate=Nr/s` or `Nr/m`; an empty key is not limited).',
    note: 'The size bounds the number of keys (about 128 bytes each, as nginx); when full, the least recently used go. `sync` (nginx Plus) is accepted: the zone is already one for every worker process. ' + REQ_NOTE,
  }),
  noDuplicateZone(listSetting({
    name: 'limit_req', contexts: LOC3, kind: 'http', field: 'limitReqs', parse: limitReq, args: [1, 3],
    syntax: 'limit_req zone=name [burst=number] [nodelay | delay=number];',
    summary: 'Limit the request rate per key of the zone, nginx\'s leaky bucket: up to `burst` excess requests wait (or pass at once up to `delay`, all with `nodelay`), the rest get limit_req_status.',
    note: 'Several limit_req may apply; a level that has any replaces the inherited ones.',
  }), 'http', 'limitReqs'),
  setting({
    name: 'limit_req_status', contexts: LOC3, kind: 'http', field: 'limitReqStatus', parse: status, default: '503',
    syntax: 'limit_req_status code;', summary: 'Status of a rejected request.',
  }),
  setting({
    name: 'limit_req_log_level', contexts: LOC3, kind: 'http', field: 'limitReqLogLevel', parse: level, default: 'error',
    syntax: 'limit_req_log_level info | notice | warn | error;', summary: 'Level of the "limiting requests" line; delayed requests are logged one level lower.',
  }),
  setting({
    name: 'limit_req_dry_run', contexts: LOC3, kind: 'http', field: 'limitReqDryRun', parse: flag, default: 'off',
    syntax: 'limit_req_dry_run on | off;', summary: 'Account and log, but neither delay nor reject ($limit_req_status says ..._DRY_RUN).',
  }),
  ...connDirectives(LOC3, 'http'),
  setting({
    name: 'limit_conn_status', contexts: LOC3, kind: 'http', field: 'limitConnStatus', parse: status, default: '503',
    syntax: 'limit_conn_status code;', summary: 'Status of a request refused by limit_conn.',
  }),
  ...connDirectives(STREAM, 'stream'),
];

/** stub_status (ngx_http_stub_status_module): nginx 1.22 accepts and ignores one argument. */
export const STUB_STATUS_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'stub_status', contexts: ['server', 'location'], args: [0, 1], syntax: 'stub_status;',
    summary: 'Serve nginx\'s basic status page: active connections, accepts / handled / requests, reading / writing / waiting.',
    note: 'Counted over every worker process (the primary asks each one). tsproxy counts stream connections in "Active connections" as nginx does.',
    apply(scope) {
      // In server: the requests no location matches (nginx: a server-level content handler, not inherited by locations).
      if (scope.location !== undefined) scope.location.stubStatus = true;
      else if (scope.server !== undefined) scope.server.stubStatus = true;
    },
  },
];
