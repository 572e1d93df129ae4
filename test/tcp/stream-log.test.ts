import { describe, expect, it } from 'vitest';
import { BASIC_LOG_FORMAT, compileKey, compileLogFormat, timeLocal, type SessionInfo } from '../../src/tcp/stream-log.js';

const session: SessionInfo = {
  connection: 7,
  remoteAddress: '192.0.2.1',
  remotePort: 50000,
  serverAddress: '127.0.0.1',
  serverPort: 8443,
  bytesSent: 1234,
  bytesReceived: 56,
  startedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
  endedAt: Date.UTC(2025, 0, 2, 3, 4, 6) + 250,
  upstreamAddrs: ['127.0.0.1:9001', '127.0.0.1:9002'],
  upstreamBytesSent: 56,
  upstreamBytesReceived: 1234,
  upstreamConnectTimeMs: 3,
  status: 200,
  sslPrereadServerName: 'a.test',
  sslPrereadAlpn: ['h2', 'http/1.1'],
  proxyProtocolAddress: null,
  proxyProtocolPort: null,
  host: 'say "hi"\n',
  serverName: 'a.test',
};

describe('stream access log formats', () => {
  it("renders nginx's basic format", () => {
    const line = compileLogFormat(BASIC_LOG_FORMAT)(session);
    expect(line).toBe(`192.0.2.1 [${timeLocal(session.endedAt)}] TCP 200 1234 56 1.250\n`);
    expect(timeLocal(session.endedAt)).toMatch(/^\d\d\/Jan\/2025:\d\d:\d\d:\d\d [+-]\d{4}$/);
  });

  it('supports ${name}, stream variables, "-" for empty values and unknown names', () => {
    const f = compileLogFormat('${remote_addr}:$remote_port $upstream_addr $ssl_preread_server_name $proxy_protocol_addr $nope $upstream_connect_time $ssl_preread_alpn_protocols');
    expect(f(session)).toBe('192.0.2.1:50000 127.0.0.1:9001, 127.0.0.1:9002 a.test - - 0.003 h2,http/1.1\n');
  });

  it('escapes like nginx by default and as JSON on request', () => {
    expect(compileLogFormat('$host')(session)).toBe('say \\x22hi\\x22\\x0A\n');
    expect(compileLogFormat('{"h":"$host"}', 'json')(session)).toBe('{"h":"say \\"hi\\"\\n"}\n');
    expect(compileLogFormat('$host', 'none')(session)).toBe('say "hi"\n\n');
  });

  it('compiles hash keys without escaping', () => {
    expect(compileKey('$remote_addr-$ssl_preread_server_name')(session)).toBe('192.0.2.1-a.test');
  });
});
