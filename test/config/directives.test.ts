import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DIRECTIVES, DIRECTIVE_NAMES, findDirective, settingDefaults } from '../../src/config/directives.js';
import { renderDirectiveReference } from '../../src/config/directives-doc.js';
import { suggest } from '../../src/config/build.js';

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

  test('suggestions use edit distance <= 2', () => {
    expect(suggest('proxy_pas')).toBe('proxy_pass');
    expect(suggest('lisen')).toBe('listen');
    expect(suggest('completely_unknown')).toBeNull();
    expect(DIRECTIVE_NAMES).toContain('websocket_pass');
  });
});
