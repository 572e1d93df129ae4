import { describe, expect, test } from 'vitest';
import { compileConfigRegex } from '../../src/config/template.js';
import { firstSegmentRegex, websocketPassHttp } from '../../src/config/websocket-http.js';
import { configFrom } from '../helpers/proxy.js';

describe('firstSegmentRegex: a websocket_pass path names the first path segment exactly', () => {
  test.each([
    ['/chat', '/chat', true],
    ['/chat', '/chat/1', true],
    ['/chat', '/chatroom', false],
    ['/chat', '/', false],
    ['/chat/', '/chat/x', true],
    ['/a.b', '/axb', false],
    ['/a.b', '/a.b/c', true],
    [null, '/anything', true],
    ['/', '/anything', true],
  ] as const)('%s on %s: %s', (route, uri, matches) => {
    expect(compileConfigRegex(firstSegmentRegex(route), false).test(uri)).toBe(matches);
  });
});

describe('websocketPassHttp', () => {
  test('one http server per websocket_pass tcp server: routes in file order, then 404; stream settings carried over', () => {
    const config = configFrom(`tcp {
      upstream a { server 127.0.0.1:1; }
      upstream b { server 127.0.0.1:2; }
      server { listen 127.0.0.1:9000 proxy_protocol; server_name ws.test; proxy_timeout 5m; proxy_connect_timeout 3s; websocket_pass /chat a; websocket_pass b; deny 10.0.0.0/8; }
      server { listen 127.0.0.1:9001; proxy_pass a; } }`);
    const ws = websocketPassHttp(config.stream, config.prefix)!;
    expect(ws.http.servers).toHaveLength(1);
    const server = ws.http.servers[0]!;
    expect(ws.servers.get(server)).toBe(config.stream!.servers[0]);
    expect(server.listens.map((l) => [l.key, l.proxyProtocol, l.ssl])).toEqual([['127.0.0.1:9000', false, false]]);
    expect(server.serverNames).toEqual(config.stream!.servers[0]!.serverNames);
    expect(server.locations.map((l) => [l.match, l.handler.kind === 'proxy' ? l.handler.target.upstream : l.handler.kind])).toEqual([
      [{ kind: 'regex', source: '^/chat(?:/|$)', caseless: false }, 'a'],
      [{ kind: 'regex', source: '^/', caseless: false }, 'b'],
      [{ kind: 'regex', source: '', caseless: false }, 'return'],
    ]);
    const s = server.settings;
    expect([s.proxyReadTimeoutMs, s.proxySendTimeoutMs, s.websocketReadTimeoutMs, s.keepaliveTimeoutMs, s.proxyConnectTimeoutMs]).toEqual([300_000, 300_000, 300_000, 300_000, 3000]);
    expect(s.proxySetHeaders.map((h) => [h.name, h.value])).toEqual([['Host', '$http_host']]);
    expect(s.clientMaxBodySizeBytes).toBe(0);
    expect(s.proxyForwardedHeaders).toBe(true);
  });

  test('null without websocket_pass servers', () => {
    expect(websocketPassHttp(configFrom('stream { server { listen 127.0.0.1:9001; proxy_pass 127.0.0.1:1; } }').stream, '/')).toBeNull();
    expect(websocketPassHttp(null, '/')).toBeNull();
  });
});
