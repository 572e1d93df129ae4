/**
 * Request header name rules (underscores_in_headers, ignore_invalid_headers, max_headers) and
 * lingering close, through real sockets. Expected behaviour is nginx's, checked with ask-nginx
 * (nginx 1.22; max_headers from the nginx 1.27.2+ documentation).
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

/** A backend answering with the raw header names and values it received, as JSON. */
async function echoBackend(): Promise<number> {
  const server = http.createServer((req, res) => res.end(JSON.stringify(req.rawHeaders)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return (server.address() as net.AddressInfo).port;
}

/** Send raw bytes, collect the reply until the proxy closes. */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', reject);
    onTestFinished(() => { s.destroy(); });
  });
}

function request(headerLines: readonly string[]): string {
  return `GET / HTTP/1.1\r\nHost: a\r\n${headerLines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;
}

/** The header names the backend saw, other than Host/Connection and the proxy's own X-* headers. */
function seen(reply: string): string[] | number {
  const status = Number(reply.slice(9, 12));
  if (status !== 200) return status;
  const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
  const json = body.slice(body.indexOf('['), body.lastIndexOf(']') + 1);
  const list = JSON.parse(json) as string[];
  const names: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i]!.startsWith('T')) names.push(list[i]!);
  return names;
}

describe('underscores_in_headers / ignore_invalid_headers (nginx 1.22)', () => {
  const cases = ['T_Under: 1', 'T.Dot: 2', 'T@At: 3', 'T!Bang: 4', 'T"Q: 5', 'T(P: 6', 'T-Ok: 7'];
  // nginx's answers per server settings: names passed on, or the status of the whole request
  const table: [string, (string | number)[]][] = [
    ['', ['T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok T-Ok']],
    ['underscores_in_headers on;', ['T_Under T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok', 'T-Ok T-Ok']],
    ['ignore_invalid_headers off;', ['T_Under T-Ok', 'T.Dot T-Ok', 400, 'T!Bang T-Ok', 400, 400, 'T-Ok T-Ok']],
    ['ignore_invalid_headers off; underscores_in_headers on;', ['T_Under T-Ok', 'T.Dot T-Ok', 400, 'T!Bang T-Ok', 400, 400, 'T-Ok T-Ok']],
  ];
  for (const [settings, expected] of table) {
    test(`server { ${settings || '(defaults)'} }`, async () => {
      const backend = await echoBackend();
      const proxy = await startProxy(`http { server { listen 127.0.0.1:0; ${settings} location / { proxy_pass http://127.0.0.1:${backend}; } } }`);
      const got: (string | number)[] = [];
      for (const line of cases) {
        const r = seen(await raw(proxy.port(), request([line, 'T-Ok: 0'])));
        got.push(typeof r === 'number' ? r : r.join(' '));
      }
      expect(got).toEqual(expected);
    });
  }

  test('a space in a name is a 400 whatever the settings; an ignored Host_x leaves no Host (400)', async () => {
    const proxy = await startProxy('http { server { listen 127.0.0.1:0; return 200 ok; } }');
    expect((await raw(proxy.port(), request(['X Sp: 1']))).slice(0, 12)).toBe('HTTP/1.1 400');
    expect((await raw(proxy.port(), 'GET / HTTP/1.1\r\nHost_x: a\r\nConnection: close\r\n\r\n')).slice(0, 12)).toBe('HTTP/1.1 400');
    // an ignored Content_Length frames nothing
    expect((await raw(proxy.port(), 'GET / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\nConnection: close\r\n\r\n')).slice(0, 12)).toBe('HTTP/1.1 200');
  });
});

describe('max_headers (nginx 1.27.2+: more header lines than allowed is a 400)', () => {
  test('max_headers 3: three lines pass, four are a 400; the default is 1000', async () => {
    const proxy = await startProxy('http { server { listen 127.0.0.1:0; max_headers 3; return 200 ok; } server { listen 127.0.0.2:0; return 200 ok; } }');
    const port = proxy.port('127.0.0.1:0');
    expect((await raw(port, request(['A: 1']))).slice(0, 12)).toBe('HTTP/1.1 200'); // Host, A, Connection
    expect((await raw(port, request(['A: 1', 'B: 2']))).slice(0, 12)).toBe('HTTP/1.1 400');
    const many = Array.from({ length: 998 }, (_, i) => `H${i}: x`);
    const other = proxy.port('127.0.0.2:0');
    const send = (lines: string[]) => new Promise<string>((resolve, reject) => {
      const s = net.connect(other, '127.0.0.2', () => s.write(request(lines)));
      let out = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => { out += d; });
      s.on('close', () => resolve(out));
      s.on('error', reject);
    });
    expect((await send(many)).slice(0, 12)).toBe('HTTP/1.1 200'); // 1000 lines
    expect((await send([...many, 'Z: 1'])).slice(0, 12)).toBe('HTTP/1.1 400');
  });
});

describe('lingering_close (nginx: read and drop what the client still sends before closing)', () => {
  /**
   * A POST answered (return 200) before its body is read (tsproxy then closes). The client goes
   * on sending for 600 ms; a socket the proxy has closed answers a write with a reset.
   */
  async function refusedUpload(port: number): Promise<{ socket: net.Socket; resetAt: () => number; answeredAt: number }> {
    // Half-open like an uploading client: the proxy's FIN does not stop it sending.
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    onTestFinished(() => { s.destroy(); });
    let resetAt = 0;
    s.on('error', () => { if (resetAt === 0) resetAt = Date.now(); });
    let reply = '';
    let answeredAt = 0;
    s.setEncoding('latin1');
    s.on('data', (d: string) => { reply += d; if (answeredAt === 0 && reply.includes('\r\n\r\n')) answeredAt = Date.now(); });
    s.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n');
    await expect.poll(() => answeredAt, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(reply.slice(0, 12)).toBe('HTTP/1.1 200');
    for (let i = 0; i < 3 && resetAt === 0; i++) {
      s.write(Buffer.alloc(16_384, 0x61));
      await new Promise((r) => setTimeout(r, 200));
    }
    return { socket: s, resetAt: () => resetAt, answeredAt };
  }

  /** Keep writing a little until the proxy's closed socket resets us. */
  async function writeUntilReset(u: Awaited<ReturnType<typeof refusedUpload>>, timeoutMs: number): Promise<number> {
    const timer = setInterval(() => { if (!u.socket.destroyed) u.socket.write('x'); }, 100);
    try {
      await expect.poll(() => u.resetAt(), { timeout: timeoutMs, interval: 50 }).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
    return u.resetAt() - u.answeredAt;
  }

  test('on (default): what the client sends after the answer is read; quiet for lingering_timeout, the socket closes', async () => {
    const proxy = await startProxy('http { server { listen 127.0.0.1:0; lingering_timeout 1s; return 200 ok; } }');
    const u = await refusedUpload(proxy.port());
    expect(u.resetAt()).toBe(0); // 600 ms of body after the answer: read and dropped, no reset
    await new Promise((r) => setTimeout(r, 1_500)); // quiet for longer than lingering_timeout
    expect(await writeUntilReset(u, 3_000)).toBeGreaterThanOrEqual(1_500);
  });

  test('lingering_time bounds the whole linger even while the client keeps sending', async () => {
    const proxy = await startProxy('http { server { listen 127.0.0.1:0; lingering_time 1s; lingering_timeout 5s; return 200 ok; } }');
    const u = await refusedUpload(proxy.port());
    expect(u.resetAt()).toBe(0);
    const after = await writeUntilReset(u, 4_000);
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(3_000);
  });

  test('off: closed at once after the answer (the next body bytes are reset)', async () => {
    const proxy = await startProxy('http { server { listen 127.0.0.1:0; lingering_close off; return 200 ok; } }');
    const u = await refusedUpload(proxy.port());
    expect(u.resetAt()).toBeGreaterThan(0);
    expect(u.resetAt() - u.answeredAt).toBeLessThan(600);
  });
});

describe('reset_timedout_connection (nginx 1.22: SO_LINGER 0 on a timed out request and on return 444)', () => {
  /** How the connection ends for the client: 'reset' (ECONNRESET) or 'end' (FIN). */
  function ending(port: number, data: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(data));
      s.on('data', () => {});
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNRESET' ? 'reset' : e.code ?? 'error'));
      s.on('end', () => resolve('end'));
      onTestFinished(() => { s.destroy(); });
    });
  }
  const cases = [
    ['return 444', 'GET /r444 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['client_body_timeout', 'POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab'],
    ['client_header_timeout', 'GET / HTTP/1.1\r\nHost: a\r\n'],
  ] as const;
  /** A backend that takes connections and never answers: the body timeout is the client's. */
  async function silentBackend(): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
    return (server.address() as net.AddressInfo).port;
  }
  const conf = async (reset: string) => `http { server { listen 127.0.0.1:0; client_body_timeout 500ms; client_header_timeout 500ms;
    keepalive_timeout 500ms; ${reset} location /r444 { return 444; } location /body { proxy_pass http://127.0.0.1:${await silentBackend()}; }
    location /ok { return 200 ok; } } }`;

  test('on: each timed out request (and 444) ends with a RST; an idle keep-alive connection still ends with a FIN', async () => {
    const proxy = await startProxy(await conf('reset_timedout_connection on;'));
    for (const [name, data] of cases) expect([name, await ending(proxy.port(), data)]).toEqual([name, 'reset']);
    expect(await ending(proxy.port(), 'GET /ok HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('end');
  });

  test('off (default): the same connections end with a FIN', async () => {
    const proxy = await startProxy(await conf(''));
    for (const [name, data] of cases) expect([name, await ending(proxy.port(), data)]).toEqual([name, 'end']);
  });
});
