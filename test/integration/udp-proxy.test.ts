/**
 * `listen ... udp` in stream {}: sessions per client address, proxy_responses / proxy_requests /
 * proxy_timeout, balancing and passive health, access and error log lines. Every expectation
 * written as nginx's was checked against nginx 1.22 (ngx_stream_module) with the same config and
 * the same datagrams (echo backend "echo:<text>", 50 ms between datagrams).
 */
import { describe, expect, it } from 'vitest';
import { configFrom } from '../helpers/proxy.js';
import { startLoggedProxy, type LogLine } from './upstream-helpers.js';
import { accessLogFile, deadUdpPort, echoBackend, udpBackend, udpClient } from './udp-helpers.js';

const FORMAT = `log_format l '$remote_addr $protocol $status $bytes_sent $bytes_received "$upstream_addr" "$upstream_bytes_sent" "$upstream_bytes_received" "$upstream_first_byte_time"';`;

const KEY = '127.0.0.1:0 udp';

async function udpProxy(body: string): Promise<{ port: number; logs: LogLine[]; access: () => string[] }> {
  const log = accessLogFile();
  const proxy = await startLoggedProxy(`stream {\n${FORMAT}\naccess_log ${log.path} l;\n${body}\n}`, KEY);
  return { port: proxy.port, logs: proxy.logs, access: log.lines };
}

const messages = (logs: LogLine[], level?: string): string[] => logs.filter((l) => level === undefined || l.level === level).map((l) => l.msg);

describe('udp stream proxy', () => {
  it('answers a DNS-like query (proxy_responses 1): one session, "udp done", logged 200 with $protocol UDP', async () => {
    const be = await echoBackend();
    const p = await udpProxy(`server { listen ${KEY}; proxy_responses 1; proxy_timeout 5s; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    c.send('q1');
    await expect.poll(() => c.received).toEqual(['echo:q1']);
    // nginx: `udp done, packets from/to client:1/1, bytes from/to client:2/7, bytes from/to upstream:7/2`
    await expect.poll(() => messages(p.logs, 'info')).toContain('udp done, packets from/to client:1/1, bytes from/to client:2/7, bytes from/to upstream:7/2');
    await expect.poll(() => p.access().length).toBe(1);
    expect(p.access()[0]).toMatch(new RegExp(`^127\\.0\\.0\\.1 UDP 200 7 2 "127\\.0\\.0\\.1:${be.port}" "2" "7" "\\d+\\.\\d{3}"$`));
    // The next datagram of the same client is a new session (nginx logs a second line).
    c.send('q2');
    await expect.poll(() => p.access().length).toBe(2);
    expect(c.received).toEqual(['echo:q1', 'echo:q2']);
    expect(be.heard.map((h) => h.text)).toEqual(['q1', 'q2']);
  });

  it('relays syslog-like datagrams one way (proxy_responses 0): each datagram is a session that ends once sent', async () => {
    const sink = await udpBackend(() => null);
    const p = await udpProxy(`server { listen ${KEY}; proxy_responses 0; proxy_pass 127.0.0.1:${sink.port}; }`);
    const c = await udpClient(p.port);
    c.send('<13>one');
    await expect.poll(() => p.access().length).toBe(1);
    c.send('<13>two');
    await expect.poll(() => p.access().length).toBe(2);
    expect(sink.heard.map((h) => h.text)).toEqual(['<13>one', '<13>two']);
    // nginx: `udp done, packets from/to client:1/0, bytes from/to client:2/0, bytes from/to upstream:0/2`
    // and no first byte ("-")
    expect(p.access()).toEqual([
      `127.0.0.1 UDP 200 0 7 "127.0.0.1:${sink.port}" "7" "0" "-"`,
      `127.0.0.1 UDP 200 0 7 "127.0.0.1:${sink.port}" "7" "0" "-"`,
    ]);
    expect(messages(p.logs, 'info').filter((m) => m.startsWith('udp done'))).toEqual([
      'udp done, packets from/to client:1/0, bytes from/to client:7/0, bytes from/to upstream:0/7',
      'udp done, packets from/to client:1/0, bytes from/to client:7/0, bytes from/to upstream:0/7',
    ]);
  });

  it('gives each client address:port its own session and upstream socket; without proxy_responses the idle timeout ends them ("udp timed out", 200)', async () => {
    const be = await echoBackend();
    const p = await udpProxy(`server { listen ${KEY}; proxy_timeout 300ms; proxy_pass 127.0.0.1:${be.port}; }`);
    const a = await udpClient(p.port);
    const b = await udpClient(p.port);
    a.send('a1');
    b.send('b1');
    await expect.poll(() => a.received.length + b.received.length).toBe(2);
    a.send('a2');
    b.send('b2');
    await expect.poll(() => [a.received, b.received]).toEqual([['echo:a1', 'echo:a2'], ['echo:b1', 'echo:b2']]);
    const portOf = (t: string): number => be.heard.find((h) => h.text === t)!.fromPort;
    expect(portOf('a1')).toBe(portOf('a2'));
    expect(portOf('b1')).toBe(portOf('b2'));
    expect(portOf('a1')).not.toBe(portOf('b1'));
    expect(p.access()).toEqual([]);
    // nginx: `udp timed out, packets from/to client:2/2, bytes from/to client:4/14, bytes from/to upstream:14/4`, 200
    await expect.poll(() => p.access().length, { timeout: 3000 }).toBe(2);
    expect(p.access().every((l) => l.startsWith('127.0.0.1 UDP 200 14 4 '))).toBe(true);
    expect(messages(p.logs, 'info').filter((m) => m.startsWith('udp timed out'))).toEqual([
      'udp timed out, packets from/to client:2/2, bytes from/to client:4/14, bytes from/to upstream:14/4',
      'udp timed out, packets from/to client:2/2, bytes from/to client:4/14, bytes from/to upstream:14/4',
    ]);
  });

  it('ends a session whose responses never came with 502 "upstream timed out" and charges the peer', async () => {
    const silent = await udpBackend(() => null);
    const be = await echoBackend();
    const p = await udpProxy(`upstream two { server 127.0.0.1:${silent.port} max_fails=1 fail_timeout=30s; server 127.0.0.1:${be.port}; }
      server { listen ${KEY}; proxy_responses 1; proxy_timeout 300ms; proxy_pass two; }`);
    const first = await udpClient(p.port);
    first.send('x1');
    await expect.poll(() => p.access().length, { timeout: 3000 }).toBe(1);
    expect(first.received).toEqual([]);
    // nginx: 502 0 2 "silent" "2" "0" "-"
    expect(p.access()[0]).toBe(`127.0.0.1 UDP 502 0 2 "127.0.0.1:${silent.port}" "2" "0" "-"`);
    const error = p.logs.find((l) => l.msg.startsWith('upstream timed out'))!;
    expect(error).toMatchObject({
      level: 'error', msg: 'upstream timed out (110: Connection timed out) while proxying connection',
      'udp client': '127.0.0.1', server: expect.stringMatching(/^127\.0\.0\.1:\d+$/), upstream: `127.0.0.1:${silent.port}`,
    });
    await expect.poll(() => messages(p.logs, 'warn')).toContain('upstream server temporarily disabled while proxying connection');
    // The silent peer is out for fail_timeout: the next clients all reach the echo backend.
    for (const t of ['x2', 'x3']) {
      const c = await udpClient(p.port);
      c.send(t);
      await expect.poll(() => c.received).toEqual([`echo:${t}`]);
    }
  });

  it('takes an ICMP port unreachable (ECONNREFUSED) as nginx: an empty datagram back, session done, the peer charged, later sessions elsewhere', async () => {
    const dead = await deadUdpPort();
    const be = await echoBackend();
    const p = await udpProxy(`upstream two { server 127.0.0.1:${dead} max_fails=1 fail_timeout=30s; server 127.0.0.1:${be.port}; }
      server { listen ${KEY}; proxy_responses 1; proxy_timeout 5s; proxy_pass two; }`);
    const first = await udpClient(p.port);
    first.send('x1');
    // nginx 1.22 sends the client an empty datagram for the failed recv() and counts it as the response.
    await expect.poll(() => first.received).toEqual(['']);
    await expect.poll(() => p.access().length).toBe(1);
    expect(p.access()[0]).toMatch(new RegExp(`^127\\.0\\.0\\.1 UDP 200 0 2 "127\\.0\\.0\\.1:${dead}" "2" "0" "\\d+\\.\\d{3}"$`));
    const recv = p.logs.find((l) => l.msg.startsWith('recv() failed'))!;
    expect(recv).toMatchObject({
      level: 'error', msg: 'recv() failed (111: Connection refused) while proxying and reading from upstream', upstream: `127.0.0.1:${dead}`,
    });
    expect(messages(p.logs, 'info')).toContain('udp done, packets from/to client:1/1, bytes from/to client:2/0, bytes from/to upstream:0/2');
    expect(messages(p.logs, 'warn')).toContain('upstream server temporarily disabled while proxying connection');
    for (const t of ['x2', 'x3']) {
      const c = await udpClient(p.port);
      c.send(t);
      await expect.poll(() => c.received).toEqual([`echo:${t}`]);
    }
  });

  it('balances sessions round robin over two backends, and by `hash $remote_addr` all onto one', async () => {
    const a = await echoBackend('a');
    const b = await echoBackend('b');
    const tagsThrough = async (method: string): Promise<string[]> => {
      const p = await udpProxy(`upstream u { ${method} server 127.0.0.1:${a.port}; server 127.0.0.1:${b.port}; }
        server { listen ${KEY}; proxy_responses 1; proxy_pass u; }`);
      const tags: string[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await udpClient(p.port);
        c.send(`q${i}`);
        await expect.poll(() => c.received.length).toBe(1);
        tags.push(c.received[0]!.split(':')[0]!);
      }
      return tags;
    };
    expect((await tagsThrough('')).sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(new Set(await tagsThrough('hash $remote_addr;')).size).toBe(1);
  });

  it('answers "no live upstreams" with 502 and refuses a denied client with 403, nginx\'s lines', async () => {
    const p = await udpProxy(`upstream none { server 127.0.0.1:9 down; }
      server { listen ${KEY}; proxy_responses 1; proxy_pass none; }`);
    const c = await udpClient(p.port);
    c.send('n');
    await expect.poll(() => p.access()).toEqual(['127.0.0.1 UDP 502 0 1 "none" "0" "0" "-"']);
    expect(p.logs.find((l) => l.msg === 'no live upstreams while connecting to upstream')).toMatchObject({ level: 'error', 'udp client': '127.0.0.1', upstream: 'none' });

    const be = await echoBackend();
    const q = await udpProxy(`server { listen ${KEY}; deny 127.0.0.1; proxy_responses 1; proxy_pass 127.0.0.1:${be.port}; }`);
    const d = await udpClient(q.port);
    d.send('deny');
    // nginx: 403 0 4 "-" ...; `access forbidden by rule while initializing session, udp client: 127.0.0.1, server: 127.0.0.1:PORT`
    await expect.poll(() => q.access()).toEqual(['127.0.0.1 UDP 403 0 4 "-" "-" "-" "-"']);
    expect(q.logs.find((l) => l.msg === 'access forbidden by rule while initializing session')).toMatchObject({
      level: 'error', 'udp client': '127.0.0.1', server: `127.0.0.1:${q.port}`,
    });
    expect(be.heard).toEqual([]);
  });

  it('with proxy_requests 2, the third datagram of a client starts a new session', async () => {
    const be = await echoBackend();
    const p = await udpProxy(`server { listen ${KEY}; proxy_responses 1; proxy_requests 2; proxy_timeout 300ms; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    for (const t of ['r1', 'r2', 'r3']) {
      c.send(t);
      await expect.poll(() => c.received.at(-1)).toBe(`echo:${t}`);
    }
    // nginx: the first session "udp done, packets from/to client:2/2", the second times out (1/1)
    await expect.poll(() => p.access().length, { timeout: 3000 }).toBe(2);
    expect(messages(p.logs, 'info')).toEqual(expect.arrayContaining([
      'udp done, packets from/to client:2/2, bytes from/to client:4/14, bytes from/to upstream:14/4',
      'udp timed out, packets from/to client:1/1, bytes from/to client:2/7, bytes from/to upstream:7/2',
    ]));
    expect(be.heard[0]!.fromPort).toBe(be.heard[1]!.fromPort);
    expect(be.heard[2]!.fromPort).not.toBe(be.heard[0]!.fromPort);
  });

  it('sends `return`\'s value as one datagram', async () => {
    const p = await udpProxy(`server { listen ${KEY}; return "hello $remote_addr"; }`);
    const c = await udpClient(p.port);
    c.send('x');
    await expect.poll(() => c.received).toEqual(['hello 127.0.0.1']);
    await expect.poll(() => p.access()).toEqual(['127.0.0.1 UDP 200 15 1 "-" "-" "-" "-"']);
  });

  it('listens on IPv6 ([::1]) and proxies to an IPv4 upstream (nginx: "::1 UDP 200 7 2")', async () => {
    const be = await echoBackend();
    const log = accessLogFile();
    const proxy = await startLoggedProxy(`stream { ${FORMAT} access_log ${log.path} l; server { listen [::1]:0 udp; proxy_responses 1; proxy_pass 127.0.0.1:${be.port}; } }`, '[::1]:0 udp');
    const c = await udpClient(proxy.port, '::1');
    c.send('v6');
    await expect.poll(() => c.received).toEqual(['echo:v6']);
    await expect.poll(() => log.lines().length).toBe(1);
    expect(log.lines()[0]).toMatch(new RegExp(`^::1 UDP 200 7 2 "127\\.0\\.0\\.1:${be.port}" "2" "7" "\\d+\\.\\d{3}"$`));
  });

  it('keeps its socket across a reload (same port, no datagram lost) and applies the new settings to new sessions', async () => {
    const a = await echoBackend('a');
    const b = await echoBackend('b');
    const text = (port: number): string => `stream { server { listen ${KEY}; proxy_responses 1; proxy_pass 127.0.0.1:${port}; } }`;
    const proxy = await startLoggedProxy(text(a.port), KEY);
    const c = await udpClient(proxy.port);
    c.send('1');
    await expect.poll(() => c.received).toEqual(['a:1']);
    const summary = await proxy.runtime.reload(configFrom(text(b.port)));
    expect(summary.listenersOpened).toEqual([]);
    expect(proxy.runtime.port(KEY)).toBe(proxy.port);
    c.send('2');
    await expect.poll(() => c.received).toEqual(['a:1', 'b:2']);
  });

  it('counts each session against limit_conn: a second client of the address gets 503 while the first session lives (nginx\'s line)', async () => {
    const be = await echoBackend();
    const log = accessLogFile();
    const proxy = await startLoggedProxy(`stream {
      log_format l '$remote_addr $protocol $status $bytes_sent $bytes_received "$upstream_addr" $limit_conn_status';
      access_log ${log.path} l;
      limit_conn_zone $binary_remote_addr zone=z:1m;
      server { listen ${KEY}; limit_conn z 1; proxy_timeout 300ms; proxy_pass 127.0.0.1:${be.port}; }
    }`, KEY);
    const a = await udpClient(proxy.port);
    a.send('a1');
    await expect.poll(() => a.received).toEqual(['echo:a1']);
    const b = await udpClient(proxy.port);
    b.send('b1');
    // nginx 1.22: `limiting connections by zone "z" while initializing session, udp client: 127.0.0.1, server: ...`
    await expect.poll(() => log.lines()).toEqual(['127.0.0.1 UDP 503 0 2 "-" REJECTED']);
    expect(proxy.logs.find((l) => l.msg === 'limiting connections by zone "z" while initializing session')).toMatchObject({
      level: 'error', 'udp client': '127.0.0.1', server: `127.0.0.1:${proxy.port}`,
    });
    await expect.poll(() => log.lines().length, { timeout: 3000 }).toBe(2);
    expect(log.lines()[1]).toBe(`127.0.0.1 UDP 200 7 2 "127.0.0.1:${be.port}" PASSED`);
    // The session ended: its hold went back, the address may start another.
    b.send('b2');
    await expect.poll(() => b.received).toEqual(['echo:b2']);
  });

  it('takes the next peer when a connect fails at once, as nginx (connect() to a broadcast address: EACCES, logged crit)', async () => {
    // No datagram leaves: connect() to 255.255.255.255 without SO_BROADCAST fails in the kernel.
    const be = await echoBackend();
    const log = accessLogFile();
    const proxy = await startLoggedProxy(`stream {
      log_format l '$status "$upstream_addr" "$upstream_bytes_sent" "$upstream_bytes_received" "$upstream_connect_time"';
      access_log ${log.path} l;
      upstream bc { server 255.255.255.255:${be.port}; server 127.0.0.1:${be.port}; }
      server { listen ${KEY}; proxy_responses 1; proxy_pass bc; }
    }`, KEY);
    const c = await udpClient(proxy.port);
    c.send('a');
    await expect.poll(() => c.received).toEqual(['echo:a']);
    // nginx 1.22: 200 "255.255.255.255:P, 127.0.0.1:P" "0, 1" "0, 6" "-, 0.000"
    await expect.poll(() => log.lines().length).toBe(1);
    expect(log.lines()[0]).toMatch(new RegExp(`^200 "255\\.255\\.255\\.255:${be.port}, 127\\.0\\.0\\.1:${be.port}" "0, 1" "0, 6" "-, \\d+\\.\\d{3}"$`));
    expect(proxy.logs.find((l) => l.msg.startsWith('connect() to'))).toMatchObject({
      level: 'crit', msg: `connect() to 255.255.255.255:${be.port} failed (13: Permission denied) while connecting to upstream`, 'udp client': '127.0.0.1',
    });
    expect(messages(proxy.logs, 'warn')).toContain('upstream server temporarily disabled while connecting to upstream');
    // The peer is out for fail_timeout: the next session goes straight to the echo backend.
    const d = await udpClient(proxy.port);
    d.send('b');
    await expect.poll(() => d.received).toEqual(['echo:b']);
    await expect.poll(() => log.lines()[1]).toMatch(new RegExp(`^200 "127\\.0\\.0\\.1:${be.port}" "1" "6" "\\d+\\.\\d{3}"$`));
  });

  it('with proxy_next_upstream off, a failed connect ends the session with 502', async () => {
    const be = await echoBackend();
    const p = await udpProxy(`upstream bc { server 255.255.255.255:${be.port}; server 127.0.0.1:${be.port}; }
      server { listen ${KEY}; proxy_responses 1; proxy_next_upstream off; proxy_pass bc; }`);
    const c = await udpClient(p.port);
    c.send('a');
    await expect.poll(() => p.access()).toEqual([`127.0.0.1 UDP 502 0 1 "255.255.255.255:${be.port}" "0" "0" "-"`]);
    expect(c.received).toEqual([]);
    expect(be.heard).toEqual([]);
  });

  it('with proxy_protocol on, puts a PROXY v1 header (TCP4, as nginx 1.22) in front of the first datagram of each session', async () => {
    const be = await echoBackend();
    const p = await udpProxy(`server { listen ${KEY}; proxy_responses 1; proxy_protocol on; proxy_pass 127.0.0.1:${be.port}; }`);
    const c = await udpClient(p.port);
    c.send('a');
    const header = `PROXY TCP4 127.0.0.1 127.0.0.1 ${c.port} ${p.port}\r\n`;
    await expect.poll(() => c.received).toEqual([`echo:${header}a`]);
    // nginx: "udp done, packets from/to client:1/1, bytes from/to client:1/50, bytes from/to upstream:50/45"
    const n = header.length + 1;
    await expect.poll(() => p.access().length).toBe(1);
    expect(p.access()[0]).toMatch(new RegExp(`^127\\.0\\.0\\.1 UDP 200 ${n + 5} 1 "127\\.0\\.0\\.1:${be.port}" "${n}" "${n + 5}" "\\d+\\.\\d{3}"$`));
    expect(messages(p.logs, 'info')).toContain(`udp done, packets from/to client:1/1, bytes from/to client:1/${n + 5}, bytes from/to upstream:${n + 5}/${n}`);
  });

  it('holds at most worker_connections sessions per UDP listen: a new address beyond them is dropped with nginx\'s alert', async () => {
    const sink = await udpBackend(() => null);
    const proxy = await startLoggedProxy(`events { worker_connections 2; }
      stream { server { listen ${KEY}; proxy_timeout 5s; proxy_pass 127.0.0.1:${sink.port}; } }`, KEY);
    const clients = await Promise.all([udpClient(proxy.port), udpClient(proxy.port)]);
    clients.forEach((c, i) => c.send(`c${i}`));
    await expect.poll(() => sink.heard.length).toBe(2);
    const third = await udpClient(proxy.port);
    third.send('c2');
    await expect.poll(() => proxy.logs.find((l) => l.msg === '2 worker_connections are not enough')?.level).toBe('alert');
    // a known address still reaches its session
    clients[0]!.send('again');
    await expect.poll(() => sink.heard.map((h) => h.text).sort()).toEqual(['again', 'c0', 'c1']);
  });

  it('serves `listen ... udp` in tsproxy\'s `tcp {}` block too', async () => {
    const proxy = await startLoggedProxy(`tcp { server { listen ${KEY}; return "tcp block $protocol"; } }`, KEY);
    const c = await udpClient(proxy.port);
    c.send('x');
    await expect.poll(() => c.received).toEqual(['tcp block UDP']);
  });

  it('on a dual-stack `[::]` listen, answers an IPv4 client, logged as 127.0.0.1', async () => {
    const be = await echoBackend();
    const log = accessLogFile();
    const proxy = await startLoggedProxy(`stream { log_format l '$remote_addr $protocol $status'; access_log ${log.path} l;
      server { listen [::]:0 udp; proxy_responses 1; proxy_pass 127.0.0.1:${be.port}; } }`, '[::]:0 udp');
    const c = await udpClient(proxy.port);
    c.send('v4');
    await expect.poll(() => c.received, { timeout: 5000 }).toEqual(['echo:v4']);
    await expect.poll(() => log.lines()).toEqual(['127.0.0.1 UDP 200']);
  });
});
