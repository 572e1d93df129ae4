/**
 * `$upstream_*` as nginx logs them: one value per try (", "), one group per upstream phase of
 * the request (" : ", an error_page that proxies again), the group's name when no peer was live,
 * "-" for a time never reached. The expected shapes are nginx 1.22's for the same configs
 * (checked by running nginx with an upstream of a dead peer, 127.0.0.1:1, and a live one):
 *   st=502, 200 addr=127.0.0.1:1, 127.0.0.1:N rt=0.000, 0.000 ct=-, 0.000 ht=-, 0.000 br=0, 145 bs=0, 84
 *   st=502 : 503 addr=d : 127.0.0.1:N ct=- : 0.000
 * and for an upgraded connection: status=101 bbs=20 (the tunnelled bytes) conn=upgrade ubr=97.
 */
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { logFile as tempLog } from '../helpers/access-log.js';
import { request, startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';

const DEAD = '127.0.0.1:1';

/** A raw TCP backend on 127.0.0.1 (closed when the test ends); resolves its port. */
async function tcpBackend(onSocket: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => void server.close());
  return (server.address() as net.AddressInfo).port;
}

/** A raw client that sends `first` and collects everything; `closed` resolves when the proxy closes it. */
function rawClient(port: number, first: string): { text(): string; closed: Promise<void>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  socket.on('data', (d) => { got += String(d); });
  if (first !== '') socket.write(first);
  return { text: () => got, closed: new Promise<void>((r) => socket.once('close', () => r())), socket };
}

const ALL = 'st=$upstream_status addr=$upstream_addr rt=$upstream_response_time ct=$upstream_connect_time '
  + 'ht=$upstream_header_time br=$upstream_bytes_received bs=$upstream_bytes_sent rl=$upstream_response_length '
  + 'pp=$proxy_port ph=$proxy_host s=$status c=$sent_http_connection';

describe('http $upstream_* lists', () => {
  it('lists a refused peer and the one that answered: 502, 200', async () => {
    let headBytes = 0;
    const live = await startHttpBackend('L', (req, res) => {
      headBytes = req.socket.bytesRead;
      res.end('hi\n');
    });
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`http {
      log_format t '${ALL}';
      upstream u { server ${DEAD}; server 127.0.0.1:${live.port}; }
      server { listen 127.0.0.1:0; access_log ${log.path} t;
        location / { proxy_pass http://u; proxy_next_upstream error; } } }`);
    const res = await request(proxy.url('/'));
    expect(res.body).toBe('hi\n');
    await expect.poll(() => log.lines().length).toBe(1);
    const line = log.lines()[0]!;
    const m = /^st=(.*) addr=(.*) rt=(.*) ct=(.*) ht=(.*) br=(.*) bs=(.*) rl=(.*) pp=(.*) ph=(.*) s=(.*) c=(.*)$/.exec(line);
    expect(m, line).not.toBeNull();
    const [, st, addr, rt, ct, ht, br, bs, rl, pp, ph, s, c] = m!;
    expect({ st, addr, pp, ph, s, rl }).toEqual({ st: '502, 200', addr: `${DEAD}, 127.0.0.1:${live.port}`, pp: '80', ph: 'u', s: '200', rl: '0, 3' });
    // the Connection header tsproxy sent, not the upstream's
    expect(c).toBe(res.headers.connection);
    expect(rt).toMatch(/^\d+\.\d{3}, \d+\.\d{3}$/);
    expect(ct).toMatch(/^-, \d+\.\d{3}$/);
    expect(ht).toMatch(/^-, \d+\.\d{3}$/);
    // the refused try moved no byte; the live one sent the request head and got head + body
    expect(br).toMatch(/^0, \d+$/);
    expect(Number(br!.slice(3))).toBeGreaterThan(3);
    expect(bs).toMatch(/^0, \d+$/);
    expect(Number(bs!.slice(3))).toBe(headBytes);
  });

  it('separates the phases of an error_page with " : " and names the group when no peer was live', async () => {
    const live = await startHttpBackend('L', (_req, res) => res.end('page'));
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`http {
      log_format t 'st=$upstream_status addr=$upstream_addr ct=$upstream_connect_time s=$status';
      upstream d { server ${DEAD}; server 127.0.0.2:1; }
      server { listen 127.0.0.1:0; access_log ${log.path} t;
        location / { proxy_pass http://d; error_page 502 = @named; }
        location @named { proxy_pass http://127.0.0.1:${live.port}; } } }`);
    // first request: both peers refuse (and are taken out for fail_timeout), the error page answers
    expect((await request(proxy.url('/'))).body).toBe('page');
    // second: no peer of d is live, nginx lists the group's name
    expect((await request(proxy.url('/'))).body).toBe('page');
    await expect.poll(() => log.lines().length).toBe(2);
    // Each line is written when its response is complete: under load the second request's line
    // can be written first, so they are told apart by content, not by order.
    const lines = log.lines();
    const first = lines.find((l) => l.startsWith('st=502, 502')) ?? lines[0];
    const second = lines.find((l) => l !== first);
    expect(first).toMatch(new RegExp(`^st=502, 502 : 200 addr=${DEAD}, 127\\.0\\.0\\.2:1 : 127\\.0\\.0\\.1:${live.port} ct=-, - : \\d+\\.\\d{3} s=200$`));
    expect(second).toMatch(new RegExp(`^st=502 : 200 addr=d : 127\\.0\\.0\\.1:${live.port} ct=- : \\d+\\.\\d{3} s=200$`));
  });

  it('lists a retry that found no live peer as the group\'s name (nginx: "502, 502" addr "A, u")', async () => {
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    const slow = await startHttpBackend('S', (req, res) => {
      if (req.url === '/slow') void held.then(() => res.end('slow'));
      else res.end('fast');
    });
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`http {
      log_format t 'uri=$uri st=$upstream_status addr=$upstream_addr s=$status';
      upstream u { server 127.0.0.1:${slow.port} max_conns=1; server ${DEAD}; }
      server { listen 127.0.0.1:0; access_log ${log.path} t; location / { proxy_pass http://u; } } }`);
    // the slow request holds the only live peer (max_conns=1); the next one tries the dead peer,
    // then finds no live peer for its second try
    const first = request(proxy.url('/slow'));
    await expect.poll(() => slow.seen.length).toBe(1);
    expect((await request(proxy.url('/x'))).status).toBe(502);
    release();
    expect((await first).body).toBe('slow');
    await expect.poll(() => log.lines().length).toBe(2);
    expect(log.lines()).toContain(`uri=/x st=502, 502 addr=${DEAD}, u s=502`);
  });


  // nginx 1.22, same config: a silent peer times out, the other is down after its first failure;
  // every request then answers 502 ("no live upstreams"), not the timeout's 504:
  //   st=502 us=504, 502 ua=S, 127.0.0.1:1   then   st=502 us=504, 502 ua=S, u
  it('a timeout followed by no live peer answers 502, as nginx ("504, 502" addr "S, u")', async () => {
    const silent = await tcpBackend(() => {});
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`http {
      log_format t 'st=$status us=$upstream_status ua=$upstream_addr';
      upstream u { server 127.0.0.1:${silent} max_fails=0; server ${DEAD} max_fails=1 fail_timeout=30s; }
      server { listen 127.0.0.1:0; access_log ${log.path} t; proxy_read_timeout 200ms;
        location / { proxy_pass http://u; } } }`);
    for (let i = 0; i < 3; i++) expect((await request(proxy.url('/'))).status).toBe(502);
    await expect.poll(() => log.lines().length).toBe(3);
    expect(log.lines()).toEqual([
      `st=502 us=504, 502 ua=127.0.0.1:${silent}, ${DEAD}`,
      `st=502 us=504, 502 ua=127.0.0.1:${silent}, u`,
      `st=502 us=504, 502 ua=127.0.0.1:${silent}, u`,
    ]);
  });
  it('logs an upgraded connection when it ends, with the tunnelled bytes and Connection: upgrade', async () => {
    let backendGot = 0;
    const upHead = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const port = await tcpBackend((s) => {
      s.on('data', (d) => { backendGot += d.length; });
      s.once('data', () => {
        s.write(upHead);
        s.write('0123456789');
        s.once('data', (d) => s.end(`ECHO:${String(d)}`));
      });
    });
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`http {
      log_format t 'status=$status bs=$bytes_sent bbs=$body_bytes_sent conn=$sent_http_connection up=$upstream_status ubr=$upstream_bytes_received ubs=$upstream_bytes_sent';
      server { listen 127.0.0.1:0; access_log ${log.path} t; location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const client = rawClient(proxy.port(), 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await expect.poll(() => client.text()).toContain('0123456789');
    client.socket.write('hello');
    await client.closed;
    const got = client.text();
    expect(got.endsWith('0123456789ECHO:hello')).toBe(true);
    await expect.poll(() => log.lines().length).toBe(1);
    const headLength = got.indexOf('\r\n\r\n') + 4;
    expect(log.lines()[0]).toBe(`status=101 bs=${headLength + 20} bbs=20 conn=upgrade up=101 ubr=${upHead.length + 20} ubs=${backendGot}`);
  });
});

describe('stream $upstream_* lists', () => {
  it('lists a refused peer and the one that carried the session', async () => {
    const port = await tcpBackend((s) => s.end('hello\n'));
    const log = tempLog('tsproxy-upvars-');
    const proxy = await startProxy(`stream {
      log_format t 'addr=$upstream_addr bs=$upstream_bytes_sent br=$upstream_bytes_received ct=$upstream_connect_time ft=$upstream_first_byte_time st=$upstream_session_time';
      upstream u { server ${DEAD}; server 127.0.0.1:${port}; }
      server { listen 127.0.0.1:0; access_log ${log.path} t; proxy_pass u; } }`);
    const client = rawClient(proxy.port(), '');
    await client.closed;
    expect(client.text()).toBe('hello\n');
    await expect.poll(() => log.lines().length).toBe(1);
    expect(log.lines()[0]).toMatch(new RegExp(`^addr=${DEAD}, 127\\.0\\.0\\.1:${port} bs=0, 0 br=0, 6 ct=-, \\d+\\.\\d{3} ft=-, \\d+\\.\\d{3} st=\\d+\\.\\d{3}, \\d+\\.\\d{3}$`));
  });
});
