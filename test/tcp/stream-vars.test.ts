import { describe, expect, it } from 'vitest';
import type { MapConfig } from '../../src/config/types.js';
import type { SessionInfo } from '../../src/tcp/stream-log.js';
import { compileLogFormat, compileStreamMaps, compileStreamTemplate } from '../../src/tcp/stream-vars.js';

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

  it('$realip_remote_addr falls back to $remote_addr', () => {
    const f = compileLogFormat('$remote_addr $realip_remote_addr:$realip_remote_port');
    expect(f(session())).toBe('192.0.2.1 192.0.2.1:4000\n');
    expect(f(session({ realipRemoteAddress: '127.0.0.1', realipRemotePort: 9 }))).toBe('192.0.2.1 127.0.0.1:9\n');
  });
});

describe('stream variable names', () => {
  it('the names -t accepts are exactly the ones a session computes', async () => {
    const { STREAM_BUILTIN_VARIABLES } = await import('../../src/config/template.js');
    const { STREAM_VARIABLES } = await import('../../src/tcp/stream-log.js');
    expect([...STREAM_BUILTIN_VARIABLES].sort()).toEqual(Object.keys(STREAM_VARIABLES).sort());
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
