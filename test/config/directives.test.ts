import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DIRECTIVES, DIRECTIVE_NAMES, findDirective, settingDefaults } from '../../src/config/directives.js';
import { renderDirectiveReference } from '../../src/config/directives-doc.js';
import { suggest } from '../../src/config/suggest.js';
import { loadConfig } from '../../src/config/load.js';
import { flag, listSetting, setting, text } from '../../src/config/directives/scope.js';

const DOC = join(import.meta.dirname, '../../grammar/directives.md');

describe('directive table', () => {
  test('grammar/directives.md is up to date (UPDATE_GOLDEN=1 regenerates it)', () => {
    const text = renderDirectiveReference();
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(DOC, text);
    expect(readFileSync(DOC, 'utf8')).toBe(text);
  });

  test('every spec is documented and has sane arity', () => {
    for (const d of DIRECTIVES) {
      expect(d.summary.length, d.name).toBeGreaterThan(5);
      expect(d.syntax.startsWith(d.name), d.name).toBe(true);
      expect(d.args[0]).toBeLessThanOrEqual(d.args[1]);
      expect(d.contexts.length).toBeGreaterThan(0);
    }
  });

  test('one name may mean different things per context', () => {
    expect(findDirective('server', 'http')?.block).toBe('server');
    expect(findDirective('server', 'main')?.block).toBe('server');
    expect(findDirective('server', 'stream')?.block).toBe('stream_server');
    expect(findDirective('server', 'upstream')?.block).toBeUndefined();
    expect(findDirective('listen', 'http')).toBeNull();
    expect(findDirective('nope', 'http')).toBeUndefined();
    expect(findDirective('include', 'http')).toBeUndefined();
  });

  test('defaults come from the table (nginx values unless documented)', () => {
    const http = settingDefaults('http');
    expect(http['proxyReadTimeoutMs']).toBe(60_000);
    expect(http['keepaliveTimeoutMs']).toBe(75_000);
    expect(http['clientMaxBodySizeBytes']).toBe(1024 * 1024);
    expect(http['largeClientHeaderBuffers']).toEqual({ count: 4, sizeBytes: 8192 });
    expect(http['proxyNextUpstream']).toEqual(['error', 'timeout']);
    expect(settingDefaults('stream')['proxyTimeoutMs']).toBe(600_000);
    expect(settingDefaults('main')['workerConnections']).toBe(1024);
    expect(settingDefaults('upstream')['expectAlive']).toEqual(['http_2xx', 'http_3xx']);
  });

  test('the defaults fill every setting: a config that sets nothing assembles without an undefined value', () => {
    const r = loadConfig(`http { upstream u { server 127.0.0.1:1; check; } server { location / { proxy_pass http://u; } } }
      stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2; } }`, 'd.conf');
    expect(r.errors.map(String)).toEqual([]);
    const missing: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (v === null || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) missing.push(`${path}.${k}`);
        else walk(x, `${path}.${k}`);
      }
    };
    walk(r.config, 'config');
    expect(missing).toEqual([]);
  });

  test('a setting is typed by the field it fills (tsc refuses a parser of another type)', () => {
    const spec = setting({
      name: 'proxy_read_timeout', contexts: ['location'], kind: 'http', field: 'proxyReadTimeoutMs',
      // @ts-expect-error proxyReadTimeoutMs holds a number; a flag parser returns a boolean
      parse: flag, default: 'on', syntax: 'proxy_read_timeout time;', summary: 'typed by its field',
    });
    expect(spec.setting).toMatchObject({ kind: 'http', field: 'proxyReadTimeoutMs' });
    const list = listSetting({
      name: 'add_header', contexts: ['location'], kind: 'http', field: 'addHeaders', args: [2, 2],
      // @ts-expect-error addHeaders holds AddHeader entries, not strings
      parse: text, syntax: 'add_header name value;', summary: 'typed by its field',
    });
    expect(list.setting).toMatchObject({ kind: 'http', field: 'addHeaders' });
  });

  test('suggestions use edit distance <= 2', () => {
    expect(suggest('proxy_pas')).toBe('proxy_pass');
    expect(suggest('lisen')).toBe('listen');
    expect(suggest('completely_unknown')).toBeNull();
    expect(DIRECTIVE_NAMES).toContain('websocket_pass');
  });
});

describe('directives real configs carry', () => {
  test('upstream keepalive_time, stream proxy_half_close, and the accepted buffer / hash sizes', () => {
    const r = loadConfig(`http {
      server_names_hash_bucket_size 128; server_names_hash_max_size 1024;
      proxy_buffer_size 16k; proxy_buffers 8 16k; proxy_busy_buffers_size 32k;
      upstream u { server 127.0.0.1:9; keepalive_time 30m; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://u; } } }
      stream { proxy_buffer_size 16k; server { listen 127.0.0.1:0; proxy_half_close on; proxy_pass 127.0.0.1:9; }
               server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:9; } }`, 'd.conf');
    expect(r.errors.map(String)).toEqual([]);
    const c = r.config!;
    expect(c.http!.upstreams.find((u) => u.name === 'u')!.keepaliveTimeMs).toBe(1_800_000);
    // nginx's defaults: keepalive_time 1h, proxy_half_close off
    expect(c.http!.upstreams.find((u) => u.implicit)?.keepaliveTimeMs ?? 3_600_000).toBe(3_600_000);
    expect(c.stream!.servers.map((s) => s.proxyHalfClose)).toEqual([true, false]);
  });

  test('their values are still checked', () => {
    const text = 'http { proxy_buffers 8 16x; server_names_hash_bucket_size big; }';
    const errors = loadConfig(text, 'd.conf').errors.map((e) => `${e.loc.line}:${e.loc.column}+${e.loc.length ?? 1} ${e.message}`);
    expect(errors).toEqual([
      `1:${text.indexOf('16x') + 1}+3 "proxy_buffers" directive invalid value`,
      `1:${text.indexOf('big') + 1}+3 "server_names_hash_bucket_size" directive invalid value`,
    ]);
  });
});
