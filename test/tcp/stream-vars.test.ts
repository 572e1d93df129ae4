import { describe, expect, it } from 'vitest';
import { STREAM_BUILTIN_VARIABLES } from '../../src/config/template.js';
import { timeLocal } from '../../src/core/variables/time.js';
import { BASIC_LOG_FORMAT, compileLogFormat, compileStreamTemplate, STREAM_VARIABLES, type SessionInfo } from '../../src/tcp/stream-vars.js';
import { UpstreamAttempts } from '../../src/upstream/attempts.js';

/** Two tries: the first refused (nothing sent, no connect time), the second carried the session. */
function twoTries(): UpstreamAttempts {
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5);
  const tries = new UpstreamAttempts();
  tries.start('127.0.0.1:9001', t0).end(t0 + 1);
  const ok = tries.start('127.0.0.1:9002', t0 + 1);
  ok.connectMs = 3;
  ok.firstByteMs = 5;
  ok.bytesSent = 56;
  ok.bytesReceived = 1234;
  ok.end(t0 + 1250);
  return tries;
}

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
  upstream: twoTries(),
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

  it('supports ${name}, stream variables, "-" for empty values', () => {
    const f = compileLogFormat('${remote_addr}:$remote_port $upstream_addr $ssl_preread_server_name $proxy_protocol_addr $ssl_preread_alpn_protocols');
    expect(f(session)).toBe('192.0.2.1:50000 127.0.0.1:9001, 127.0.0.1:9002 a.test - h2,http/1.1\n');
  });

  it('lists one value per upstream try, as nginx (a refused peer has no connect or first byte time)', () => {
    const f = compileLogFormat('$upstream_connect_time|$upstream_first_byte_time|$upstream_session_time|$upstream_bytes_sent|$upstream_bytes_received');
    expect(f(session)).toBe('-, 0.003|-, 0.005|0.001, 1.249|0, 56|0, 1234\n');
    expect(f({ ...session, upstream: null })).toBe('-|-|-|-|-\n');
  });

  it('refuses a name nothing defines instead of logging something else', () => {
    expect(() => compileLogFormat('$remote_addr $nope')).toThrow('unknown "nope" variable');
  });

  it('compiles hash keys without escaping', () => {
    expect(compileStreamTemplate('$remote_addr-$ssl_preread_server_name')(session)).toBe('192.0.2.1-a.test');
  });

  it('$realip_remote_addr falls back to $remote_addr', () => {
    const f = compileLogFormat('$remote_addr $realip_remote_addr:$realip_remote_port');
    expect(f({ ...session, remotePort: 4000})).toBe('192.0.2.1 192.0.2.1:4000\n');
    expect(f({ ...session, remotePort: 4000, realipRemoteAddress: '127.0.0.1', realipRemotePort: 9 })).toBe('192.0.2.1 127.0.0.1:9\n');
  });
});

describe('stream variable names', () => {
  it('the names -t accepts are exactly the ones a session computes', () => {
    expect([...STREAM_BUILTIN_VARIABLES].sort()).toEqual(Object.keys(STREAM_VARIABLES).sort());
  });
});
