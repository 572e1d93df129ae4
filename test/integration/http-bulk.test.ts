/**
 * Large responses through the reused upstream read buffer (pool.ts): a buffer reused while a
 * client write still references it, or a partial response head kept as a view of it, would
 * corrupt bytes silently; these tests compare hashes and heads end to end.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { countRequests, startHttpBackend, startRawBackend } from '../helpers/backend.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const BULK = 24 * 1024 * 1024;
/** Distinct bytes everywhere: a block overwritten by a later read changes the hash. */
const payload = randomBytes(BULK);
const payloadSha = sha(payload);

function proxyConfig(port: number): string {
  return `http {
    upstream b { server 127.0.0.1:${port}; keepalive 8; }
    server { listen 127.0.0.1:0;
      location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`;
}

/**
 * Write `data` in odd-sized pieces with backpressure (chunked when no content-length was set),
 * yielding now and then so the proxy sees small reads (small queued writes keep it reading) as
 * well as big ones.
 */
function pump(res: http.ServerResponse, data: Buffer): void {
  let off = 0;
  let step = 0;
  const go = (): void => {
    while (off < data.length) {
      step++;
      const end = Math.min(data.length, off + 300 + ((step * 37_813) % (step % 3 === 0 ? 200_000 : 6_000)));
      const ok = res.write(data.subarray(off, end));
      off = end;
      if (!ok) return void res.once('drain', go);
      return void setImmediate(go);
    }
    res.end();
  };
  go();
}

/** GET through the proxy, reading in bursts: a pause of a few ms after every ~1 MiB. */
function burstyGet(url: string, agent: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const h = createHash('sha256');
        let bytes = 0;
        let sincePause = 0;
        res.on('data', (c: Buffer) => {
          h.update(c);
          bytes += c.length;
          sincePause += c.length;
          if (sincePause >= 256 * 1024) {
            sincePause = 0;
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, sha: h.digest('hex'), bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  onTestFinished(() => agent.destroy());
  return agent;
}

describe('http bulk responses', () => {
  it('24 MiB with Content-Length to a client reading in bursts arrives unchanged', { timeout: 30_000 }, async () => {
    const backend = await startHttpBackend('A', (_req, res) => {
      res.setHeader('content-length', String(BULK));
      pump(res, payload);
    });
    const proxy = await startProxy(proxyConfig(backend.port));
    const agent = keepAliveAgent();
    // Twice on one client connection: the second reuses the pooled upstream connection and its buffer.
    for (let i = 0; i < 2; i++) {
      const r = await burstyGet(proxy.url('/bulk'), agent);
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe(String(BULK));
      expect(r.bytes).toBe(BULK);
      expect(r.sha).toBe(payloadSha);
    }
  });

  it('24 MiB chunked to a client reading in bursts arrives unchanged', { timeout: 30_000 }, async () => {
    const backend = await startHttpBackend('A', (_req, res) => pump(res, payload));
    const proxy = await startProxy(proxyConfig(backend.port));
    const agent = keepAliveAgent();
    for (let i = 0; i < 2; i++) {
      const r = await burstyGet(proxy.url('/chunked'), agent);
      expect(r.status).toBe(200);
      expect(r.headers['transfer-encoding']).toBe('chunked');
      expect(r.bytes).toBe(BULK);
      expect(r.sha).toBe(payloadSha);
    }
  });

  it('a trickled response to a stalled reader arrives unchanged (small writes left queued)', { timeout: 30_000 }, async () => {
    // Small reads whose client writes queue below the high-water mark (no backpressure yet)
    // while the proxy keeps reading: the case where reusing the read buffer would corrupt bytes.
    let blocked = false;
    const backend = await startHttpBackend('A', (_req, res) => {
      res.setHeader('content-length', String(BULK));
      let off = 0;
      const go = (): void => {
        blocked = false;
        while (off < BULK) {
          const end = Math.min(BULK, off + 700 + (off % 1500));
          const ok = res.write(payload.subarray(off, end));
          off = end;
          if (!ok) {
            blocked = true;
            return void res.once('drain', go);
          }
          return void setImmediate(go);
        }
        res.end();
      };
      go();
    });
    const proxy = await startProxy(proxyConfig(backend.port));
    const client = net.connect(proxy.port(), '127.0.0.1');
    onTestFinished(() => void client.destroy());
    const parts: Buffer[] = [];
    let received = 0;
    client.on('data', (c: Buffer) => {
      parts.push(c);
      received += c.length;
    });
    client.write('GET /trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // Stall until the proxy stops reading upstream (the backend is pushed back), then drain.
    client.pause();
    await expect.poll(() => blocked, { timeout: 10_000 }).toBe(true);
    client.resume();
    await new Promise<void>((resolve) => client.once('end', resolve));
    const raw = Buffer.concat(parts);
    const headEnd = raw.indexOf('\r\n\r\n') + 4;
    expect(raw.toString('latin1', 0, headEnd)).toContain(`Content-Length: ${BULK}\r\n`);
    expect(received - headEnd).toBe(BULK);
    expect(sha(raw.subarray(headEnd))).toBe(payloadSha);
  });

  it('a response head split across reads is parsed whole', async () => {
    const pieces = ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\nX-Sp', 'lit: yes-it-is\r\n', '\r\nhello'];
    const backend = await startRawBackend((socket, all) => {
      if (countRequests(all) !== 1 || !all.endsWith('\r\n\r\n')) return;
      let i = 0;
      const next = (): void => {
        socket.write(pieces[i++]!);
        if (i < pieces.length) setTimeout(next, 15);
      };
      next();
    });
    const proxy = await startProxy(proxyConfig(backend.port));
    const res = await fetch(proxy.url('/split'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-split')).toBe('yes-it-is');
    expect(await res.text()).toBe('hello');
  });

  it('a split head arriving while the previous response is still queued to the client', { timeout: 30_000 }, async () => {
    const first = payload.subarray(0, 8 * 1024 * 1024);
    const second = payload.subarray(BULK - 1024 * 1024);
    const headPieces = [
      'HTTP/1.1 200 OK\r\nContent-Length: ' + second.length + '\r\nX-Se', 'cond: tw', 'o\r\nX-Pad: ' + 'p'.repeat(3000), '\r\n\r\n',
    ];
    const backend = await startRawBackend((socket, all) => {
      const n = countRequests(all);
      if (!all.endsWith('\r\n\r\n')) return;
      if (n === 1) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${first.length}\r\n\r\n`);
        socket.write(first);
      } else if (n === 2) {
        let i = 0;
        const next = (): void => {
          socket.write(headPieces[i++]!);
          if (i < headPieces.length) setTimeout(next, 5);
          else socket.write(second);
        };
        next();
      }
    });
    const proxy = await startProxy(proxyConfig(backend.port));
    // Both requests pipelined on one connection; the client reads slowly, so the first
    // response's tail is still queued in the proxy when the second head starts to arrive.
    const client = net.connect(proxy.port(), '127.0.0.1');
    onTestFinished(() => void client.destroy());
    const parts: Buffer[] = [];
    let sincePause = 0;
    client.on('data', (c: Buffer) => {
      parts.push(c);
      sincePause += c.length;
      if (sincePause >= 256 * 1024) {
        sincePause = 0;
        client.pause();
        setTimeout(() => client.resume(), 20);
      }
    });
    client.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n');
    const all = (): Buffer => Buffer.concat(parts);
    const total = (): number => parts.reduce((n, p) => n + p.length, 0);
    await expect.poll(total, { timeout: 10_000 }).toBeGreaterThan(first.length + second.length + 3000);
    await expect.poll(() => all().toString('latin1', all().length - 64).endsWith(second.toString('latin1', second.length - 64)), { timeout: 10_000 }).toBe(true);
    const raw = all();
    const head1End = raw.indexOf('\r\n\r\n') + 4;
    expect(raw.subarray(0, head1End).toString('latin1')).toContain(`Content-Length: ${first.length}\r\n`);
    expect(sha(raw.subarray(head1End, head1End + first.length))).toBe(sha(first));
    const rest = raw.subarray(head1End + first.length);
    const head2End = rest.indexOf('\r\n\r\n') + 4;
    const head2 = rest.toString('latin1', 0, head2End);
    expect(head2).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head2).toContain('X-Second: two\r\n');
    expect(head2).toContain(`X-Pad: ${'p'.repeat(3000)}\r\n`);
    expect(rest.length - head2End).toBe(second.length);
    expect(sha(rest.subarray(head2End))).toBe(sha(second));
  });
});
