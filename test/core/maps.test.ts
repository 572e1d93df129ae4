/**
 * `map` blocks (core/variables/maps.ts), one engine for http and stream: each side through its
 * own variables.
 */
import { describe, expect, it, test } from 'vitest';
import type { MapConfig } from '../../src/config/types.js';
import { compileMaps, compileTemplate } from '../../src/http/variables.js';
import { compileLogFormat, compileStreamMaps, compileStreamTemplate, type SessionInfo } from '../../src/tcp/stream-vars.js';
import { requestInfo } from '../helpers/http-config.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };

describe('compileMaps', () => {
  const map = (over: Partial<MapConfig>): MapConfig => ({
    source: '$http_upgrade', variable: 'v', hostnames: false, defaultValue: 'dflt', entries: [], loc: LOC, ...over,
  });
  const entry = (kind: 'exact' | 'regex' | 'regexCaseless', key: string, value: string) => ({ kind, key, value, loc: LOC });

  test('exact keys are caseless, then regexes in order, then the default', () => {
    const maps = compileMaps([map({
      source: '$http_x_k',
      entries: [entry('regex', '^a', 'regex-a'), entry('exact', 'ABC', 'exact'), entry('regexCaseless', '^B', 'regex-b'), entry('regex', '^b', 'late')],
    })]);
    const t = compileTemplate('$v', { maps });
    const run = (k: string) => t(requestInfo({ headers: ['X-K', k] }));
    expect(run('abc')).toBe('exact');
    expect(run('aXY')).toBe('regex-a');
    expect(run('bee')).toBe('regex-b');
    expect(run('zzz')).toBe('dflt');
  });

  test('values are templates and may use the regex captures; the map reads another map', () => {
    const maps = compileMaps([
      map({ variable: 'outer', source: '$inner', defaultValue: 'none', entries: [entry('regex', '^up-(.*)$', 'got-$1')] }),
      map({ variable: 'inner', source: '$http_upgrade', defaultValue: '', entries: [entry('exact', 'websocket', 'up-ws')] }),
    ]);
    const t = compileTemplate('$outer/$inner', { maps });
    expect(t(requestInfo({ headers: ['Upgrade', 'websocket'] }))).toBe('got-ws/up-ws');
    expect(t(requestInfo())).toBe('none/');
  });

  test('the value is computed once per request and cached in r.vars', () => {
    let calls = 0;
    const maps = compileMaps([map({ source: '$http_x', entries: [] })]);
    const r = requestInfo();
    const get = maps.get('v')!;
    const t = compileTemplate('$v$v', { maps: new Map([['v', (rr) => { calls++; return get(rr); }]]) });
    expect(t(r)).toBe('dfltdflt');
    expect(calls).toBe(1);
    expect(r.vars?.get('v')).toBe('dflt');
    expect(t(requestInfo())).toBe('dfltdflt');
    expect(calls).toBe(2);
  });

  test('a map that refers to itself gives "" instead of recursing forever', () => {
    const maps = compileMaps([map({ source: '$v', defaultValue: 'x$v' })]);
    expect(compileTemplate('$v', { maps })(requestInfo())).toBe('x');
  });
});

describe('map hostnames', () => {
  test('hostnames maps match wildcard keys like server_name', () => {
    const e = (key: string, value: string) => ({ kind: 'exact' as const, key, value, loc: LOC });
    const maps = compileMaps([{
      source: '$http_x_h', variable: 'site', hostnames: true, defaultValue: 'none', loc: LOC,
      entries: [e('*.example.org', 'lead'), e('*.api.example.org', 'lead-long'), e('.dot.test', 'dot'), e('www.example.*', 'trail'), e('exact.example.org', 'exact')],
    }]);
    const t = compileTemplate('$site', { maps });
    const run = (h: string) => t(requestInfo({ headers: ['X-H', h] }));
    expect(run('exact.example.org')).toBe('exact');
    expect(run('a.example.org')).toBe('lead');
    expect(run('v1.api.example.org')).toBe('lead-long');
    expect(run('dot.test')).toBe('dot');
    expect(run('x.dot.test.')).toBe('dot');
    expect(run('www.example.com')).toBe('trail');
    expect(run('example.org')).toBe('none');
  });

  test('without hostnames, "*.x" is an ordinary key', () => {
    const maps = compileMaps([{
      source: '$http_x_h', variable: 'v', hostnames: false, defaultValue: 'none', loc: LOC,
      entries: [{ kind: 'exact', key: '*.x', value: 'star', loc: LOC }],
    }]);
    const t = compileTemplate('$v', { maps });
    expect(t(requestInfo({ headers: ['X-H', 'a.x'] }))).toBe('none');
    expect(t(requestInfo({ headers: ['X-H', '*.x'] }))).toBe('star');
  });
});

const loc = { file: 't', line: 1, column: 1 };

function map(source: string, variable: string, entries: [string, string][], defaultValue = '', hostnames = false): MapConfig {
  return {
    source,
    variable,
    hostnames,
    defaultValue,
    loc,
    entries: entries.map(([k, value]) =>
      k.startsWith('~*')
        ? { kind: 'regexCaseless' as const, key: k.slice(2), value, loc }
        : k.startsWith('~')
          ? { kind: 'regex' as const, key: k.slice(1), value, loc }
          : { kind: 'exact' as const, key: k, value, loc },
    ),
  };
}

function session(over: Partial<SessionInfo> = {}): SessionInfo {
  return {
    connection: 1, remoteAddress: '192.0.2.1', remotePort: 4000, serverAddress: '127.0.0.1', serverPort: 443,
    bytesSent: 0, bytesReceived: 0, startedAt: 0, endedAt: 0, upstream: null, status: 200, sslPrereadServerName: null,
    sslPrereadAlpn: [], proxyProtocolAddress: null, proxyProtocolPort: null, host: null, serverName: '',
    ...over,
  };
}

describe('stream maps', () => {
  const declared = new Set(['app']);
  const maps = compileStreamMaps([
    map('$ssl_preread_server_name', 'backend', [['a.test', 'up_a'], ['~^(?<app>\\w+)\\.apps\\.test$', '$app:9000'], ['~^n(\\d)\\.test$', 'up_$1']], 'up_b'),
    map('$ssl_preread_server_name', 'zone', [['*.example.org', 'wild'], ['www.example.*', 'tail'], ['.exact.org', 'dot']], 'none', true),
    // A map reading a map defined before it, and one reading itself.
    map('$backend', 'tier', [['up_a', 'gold']], 'plain'),
    map('$loop', 'loop', [], '$loop'),
  ], declared);
  const ctx = { maps, declared };
  const v = (name: string, sni: string | null): string => maps.get(name)!(session({ sslPrereadServerName: sni }));

  it('exact keys compare caseless, then regexes in order with captures, then the default', () => {
    expect(v('backend', 'A.Test')).toBe('up_a');
    expect(v('backend', 'shop.apps.test')).toBe('shop:9000');
    expect(v('backend', 'n7.test')).toBe('up_7');
    expect(v('backend', 'other.test')).toBe('up_b');
    expect(v('backend', null)).toBe('up_b');
  });

  it('hostnames: leading and trailing wildcards and .name', () => {
    expect(v('zone', 'a.b.example.org')).toBe('wild');
    expect(v('zone', 'www.example.net')).toBe('tail');
    expect(v('zone', 'exact.org')).toBe('dot');
    expect(v('zone', 'x.exact.org')).toBe('dot');
    expect(v('zone', 'example.org')).toBe('none');
  });

  it('maps read maps; a self-reference yields empty instead of recursing', () => {
    expect(v('tier', 'a.test')).toBe('gold');
    expect(v('tier', 'zzz')).toBe('plain');
    expect(v('loop', null)).toBe('');
  });

  it('templates, log formats and hash keys see map variables', () => {
    const s = session({ sslPrereadServerName: 'a.test' });
    expect(compileStreamTemplate('$backend-$remote_addr', ctx)(s)).toBe('up_a-192.0.2.1');
    expect(compileLogFormat('$tier $remote_addr', 'default', ctx)(s)).toBe('gold 192.0.2.1\n');
    expect(compileStreamTemplate('$backend', ctx)(s)).toBe('up_a');
  });

  it('a map regex keeps its named captures for later templates of the session (nginx)', () => {
    const declared = new Set(['sub']);
    const maps = compileStreamMaps([map('$ssl_preread_server_name', 'b', [['~^(?<sub>\\w+)\\.x$', 'up']], 'none')], declared);
    const s = session({ sslPrereadServerName: 'api.x' });
    const t = compileStreamTemplate('$b-$sub', { maps, declared });
    expect(t(s)).toBe('up-api');
    expect(compileStreamTemplate('[$sub]', { maps, declared })(session())).toBe('[]');
  });
});
