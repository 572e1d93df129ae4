import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { HttpSite } from '../../src/http/site.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { configFrom, startProxy } from '../helpers/proxy.js';
import { tempDir } from '../helpers/cli.js';
import { rawExchange, request, startHttpBackend, startRawBackend, statuses } from '../helpers/backend.js';

/** An HttpSite served by a plain net.Server, with access log lines captured in memory. */
async function siteFor(text: string): Promise<{ port: number; lines: string[]; site: HttpSite }> {
  const config = configFrom(text);
  const registry = new PeerRegistry();
  const groups = new Map<string, UpstreamGroup>();
  for (const u of config.http!.upstreams) groups.set(u.name, await UpstreamGroup.create(u, registry));
  const lines: string[] = [];
  const site = new HttpSite(config.http!, {
    groups,
    logger: pino({ level: 'silent' }),
    openAccessLog: () => ({ write: (line: string) => void lines.push(line) }),
  });
  const key = config.http!.servers[0]!.listens[0]!.key;
  const handler = site.handler(key);
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    handler(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        site.close();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, lines, site };
}

describe('http site', () => {
  it('writes one access log line per request with upstream variables filled', async () => {
    const a = await startHttpBackend('A');
    const { port, lines } = await siteFor(`http {
      log_format t '$request|$status|$body_bytes_sent|$upstream_addr|$upstream_status|$host';
      server { listen 127.0.0.1:0; access_log /dev/null t;
        location / { proxy_pass http://127.0.0.1:${a.port}; }
        location = /local { return 204; } } }`);
    await request(`http://127.0.0.1:${port}/p?q=1`, { headers: { host: 'h.test' } });
    await request(`http://127.0.0.1:${port}/local`, { headers: { host: 'h.test' } });
    expect(lines).toEqual([
      `GET /p?q=1 HTTP/1.1|200|1|127.0.0.1:${a.port}|200|h.test\n`,
      'GET /local HTTP/1.1|204|0|-|-|h.test\n',
    ]);
  });

  it('closes idle keep-alive connections of a retired site; busy ones get Connection: close', async () => {
    const { port, site } = await siteFor(`http { server { listen 127.0.0.1:0; location / { return 200 ok; } } }`);
    const socket = net.connect({ host: '127.0.0.1', port });
    onTestFinished(() => void socket.destroy());
    let data = '';
    let closed = false;
    socket.on('data', (d) => (data += d));
    socket.on('close', () => (closed = true));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => data).toMatch(/Connection: keep-alive/);
    site.close();
    await expect.poll(() => closed).toBe(true);
  });

  it('serves the new config on new connections after a reload', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { return 200 old; } } }`);
    expect((await request(proxy.url('/'))).body).toBe('old');
    await proxy.runtime.reload(configFrom(`http { server { listen 127.0.0.1:0; location / { return 200 new; } } }`));
    expect((await request(proxy.url('/'))).body).toBe('new');
  });

  it('answers 414 and 431 by the client header limits, and closes a head cut by client_header_timeout', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      client_header_buffer_size 1k; large_client_header_buffers 2 1k; client_header_timeout 300ms;
      location / { return 200 ok; } } }`);
    const port = proxy.port();
    expect(statuses(await rawExchange(port, `GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`))).toEqual([414]);
    expect(statuses(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX: ${'b'.repeat(1500)}\r\n\r\n`))).toEqual([431]);
    expect(statuses(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${'X-Header: 123456789\r\n'.repeat(200)}\r\n`))).toEqual([431]);
    // nginx closes a timed-out head without an answer (408 only in its access log): checked with nginx 1.22.
    const started = Date.now();
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 3000)).toBe('');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('closes without an answer when the request body stalls past client_body_timeout, and logs 408 (nginx)', async () => {
    // nginx 1.22 with a raw socket: no response bytes, the connection closed after the timeout,
    // `"POST / HTTP/1.1" 408 0` in the access log.
    const a = await startHttpBackend('A');
    const dir = tempDir();
    const proxy = await startProxy(`http { log_format s '$status $bytes_sent'; server { listen 127.0.0.1:0;
      location / { access_log ${dir}/access.log s; client_body_timeout 300ms; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const started = Date.now();
    const out = await rawExchange(proxy.port(), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', 3000);
    expect(out).toBe('');
    expect(Date.now() - started).toBeLessThan(2500);
    await expect.poll(() => (fs.existsSync(`${dir}/access.log`) ? fs.readFileSync(`${dir}/access.log`, 'utf8') : '')).toBe('408 0\n');
  });

  it('takes the client address from X-Forwarded-For of a trusted peer (realip)', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /trusted { set_real_ip_from 127.0.0.0/8; real_ip_header X-Forwarded-For; real_ip_recursive on;
        proxy_pass http://127.0.0.1:${a.port}; }
      location /untrusted { set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    await request(proxy.url('/trusted'), { headers: { 'x-forwarded-for': '203.0.113.7, 127.0.0.5' } });
    expect(a.seen[0]!.headers['x-real-ip']).toBe('203.0.113.7');
    await request(proxy.url('/untrusted'), { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(a.seen[1]!.headers['x-real-ip']).toBe('127.0.0.1');
    expect(a.seen[1]!.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
  });

  it('sends a PROXY protocol v1 header on each upstream connection with proxy_protocol on', async () => {
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const proxy = await startProxy(`http { upstream b { server 127.0.0.1:${backend.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_protocol on; proxy_pass http://b; } } }`);
    expect((await request(proxy.url('/'))).body).toBe('ok');
    expect((await request(proxy.url('/'))).body).toBe('ok');
    expect(backend.received).toHaveLength(2);
    for (const raw of backend.received) expect(raw).toMatch(new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${proxy.port()}\r\nGET / HTTP/1\\.1\r\n`));
  });

  it('reads a PROXY protocol header on a proxy_protocol listen and uses it through realip', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 proxy_protocol;
      set_real_ip_from 127.0.0.1; real_ip_header proxy_protocol;
      location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3000);
    expect(statuses(out)).toEqual([200]);
    expect(a.seen[0]!.headers['x-real-ip']).toBe('203.0.113.9');
    // without the header the connection is closed unanswered, as nginx does
    expect(await rawExchange(proxy.port(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toBe('');
    expect(a.requests).toBe(1);
  });

  // nginx 1.22 (checked with ask-nginx and a raw PROXY header): realip from proxy_protocol takes
  // the header's port too; $realip_remote_addr/_port keep the peer; $proxy_protocol_* the header.
  it('$proxy_protocol_addr/_port, $realip_remote_addr/_port and $remote_port after realip, as nginx', async () => {
    const pp = await startProxy(`http { server { listen 127.0.0.1:0 proxy_protocol;
      set_real_ip_from 127.0.0.1; real_ip_header proxy_protocol;
      location / { return 200 "ra=$remote_addr:$remote_port realip=$realip_remote_addr pp=$proxy_protocol_addr:$proxy_protocol_port"; } } }`);
    const byHeader = await startProxy(`http { server { listen 127.0.0.1:0;
      set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP;
      location / { return 200 "ra=$remote_addr:$remote_port realip=$realip_remote_addr pp=$proxy_protocol_addr"; } } }`);
    const [ppPort, headerPort] = [pp.port(), byHeader.port()];
    const out = await rawExchange(ppPort!, 'PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 3000);
    expect(out).toMatch(/\r\n\r\nra=10\.1\.2\.3:5555 realip=127\.0\.0\.1 pp=10\.1\.2\.3:5555$/);
    // a header address without a port leaves $remote_port empty; with one, it is that port
    const bare = await request(`http://127.0.0.1:${headerPort}/`, { headers: { 'x-real-ip': '10.9.9.9' } });
    expect(bare.body).toBe('ra=10.9.9.9: realip=127.0.0.1 pp=');
    const withPort = await request(`http://127.0.0.1:${headerPort}/`, { headers: { 'x-real-ip': '10.9.9.9:777' } });
    expect(withPort.body).toBe('ra=10.9.9.9:777 realip=127.0.0.1 pp=');
    const v6 = await request(`http://127.0.0.1:${headerPort}/`, { headers: { 'x-real-ip': '[2001:db8::1]:80' } });
    expect(v6.body).toBe('ra=2001:db8::1:80 realip=127.0.0.1 pp=');
  });

  // nginx logs the request line's target as sent; $request_uri is the origin form (ask-nginx:
  // "req=GET http://Example.ORG:8080/a/b?x=1 HTTP/1.1 ru=/a/b?x=1 host=example.org").
  it('$request keeps an absolute-form target as sent, $request_uri is its origin form', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { return 200 "req=$request ru=$request_uri host=$host"; } } }`);
    const out = await rawExchange(proxy.port(), 'GET http://Example.ORG:8080/a/b?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', 3000);
    expect(out).toMatch(/\r\n\r\nreq=GET http:\/\/Example\.ORG:8080\/a\/b\?x=1 HTTP\/1\.1 ru=\/a\/b\?x=1 host=example\.org$/);
  });

  it('serves check_status from the upstream groups', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { upstream app { server 127.0.0.1:${a.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } location = /status { check_status json; } } }`);
    const res = await request(proxy.url('/status'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toContain(`127.0.0.1:${a.port}`);
  });

  it('redirects a slashless request to a proxied prefix ending in /', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location /app/ { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const res = await request(proxy.url('/app?x=1'), { headers: { host: 'h.test' } });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe(`http://h.test:${proxy.port()}/app/?x=1`);
  });
});

describe('templates the config check accepted are compiled as written, or the site is not built', () => {
  // Configs that bypass the check (built in code, or a gap in config/variables.ts): the load or
  // reload fails naming the template instead of serving with another one.
  const deps = { groups: new Map(), logger: pino({ level: 'silent' }), openAccessLog: () => ({ write: () => {} }) };

  it('http: a log_format or a return text with a name nothing defines', () => {
    const config = configFrom('http { server { listen 127.0.0.1:0; location / { return 200 "$host"; } } }');
    const loc = config.http!.servers[0]!.loc;
    const badFormat = { ...config.http!, logFormats: [{ name: 'x', escape: 'default' as const, template: '$remote_addr $nope', loc }] };
    expect(() => new HttpSite(badFormat, deps)).toThrow('log_format cannot be compiled although the config check accepted it: unknown "nope" variable');
    const s = config.http!.servers[0]!;
    const l = s.locations[0]!;
    const badReturn = { ...config.http!, servers: [{ ...s, locations: [{ ...l, handler: { kind: 'return' as const, code: 200, text: 'x $nope', loc } }] }] };
    expect(() => new HttpSite(badReturn, deps)).toThrow('template "x $nope" cannot be compiled although the config check accepted it');
  });
});
