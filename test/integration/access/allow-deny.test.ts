/**
 * allow / deny in http, server and location, and satisfy: nginx 1.22's answers and error-log
 * lines (checked with a real nginx on the same config): 403 and `access forbidden by rule` for a
 * denied client; a level with any rule replaces the outer list; `return` (rewrite phase) answers
 * before access; satisfy any lets one yes through, and logs the refusal only when nothing did.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { startAccessProxy, request } from './helpers.js';

function www(dir: string): void {
  for (const d of ['deny', 'allow', 'outer/inner', 'outer', 'any', 'anyonly']) {
    fs.mkdirSync(path.join(dir, 'www', d), { recursive: true });
    fs.writeFileSync(path.join(dir, 'www', d, 'f'), 'ok\n');
  }
  fs.writeFileSync(path.join(dir, 'htpasswd'), `apr:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n`);
}

const CONFIG = `http {
  access_log off;
  server {
    listen 127.0.0.1:0;
    server_name example;
    root DIR/www;
    deny 10.0.0.0/8;
    location /deny { deny 127.0.0.1; }
    location /allow { allow 127.0.0.1; deny all; }
    location /outer { deny all; location /outer/inner { allow all; } }
    location /ret { deny all; return 200 "ret\\n"; }
    location /any { satisfy any; deny all; auth_basic "R"; auth_basic_user_file DIR/htpasswd; }
    location /anyonly { satisfy any; deny all; }
  }
}`;

describe('allow / deny (nginx http access module)', () => {
  test('deny answers 403 with nginx\'s page and error-log line; allow before deny all lets the client in', async () => {
    const p = await startAccessProxy(CONFIG, www);
    const denied = await request(p.port, '/deny/f');
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('<title>403 Forbidden</title>');
    expect((await request(p.port, '/allow/f')).status).toBe(200);
    // nginx 1.22: [error] *1 access forbidden by rule, client: 127.0.0.1, server: example, request: "GET /deny/f HTTP/1.1", host: "example"
    await expect.poll(() => p.lines()).toContain('[error] access forbidden by rule, client: 127.0.0.1, server: example, request: "GET /deny/f HTTP/1.1", host: "example"');
    expect(p.lines().filter((l) => l.includes('forbidden'))).toHaveLength(1);
  });

  test('a level with rules replaces the outer list (the server\'s deny 10/8 does not apply below a location with its own)', async () => {
    const p = await startAccessProxy(CONFIG, www);
    expect((await request(p.port, '/outer/f')).status).toBe(403);
    expect((await request(p.port, '/outer/inner/f')).status).toBe(200);
  });

  test('`return` answers in the rewrite phase, before access (nginx)', async () => {
    const p = await startAccessProxy(CONFIG, www);
    const r = await request(p.port, '/ret');
    expect([r.status, r.body]).toEqual([200, 'ret\n']);
  });

  test('satisfy any: a refusal by address is overruled by valid credentials; without them 401 and no "forbidden" line', async () => {
    const p = await startAccessProxy(CONFIG, www);
    const none = await request(p.port, '/any/f');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="R"');
    expect((await request(p.port, '/any/f', { auth: 'apr:secret' })).status).toBe(200);
    // only deny applies: 403, logged once at the end of the phase
    expect((await request(p.port, '/anyonly/f')).status).toBe(403);
    await expect.poll(() => p.lines().filter((l) => l.includes('forbidden'))).toEqual([
      '[error] access forbidden by rule, client: 127.0.0.1, server: example, request: "GET /anyonly/f HTTP/1.1", host: "example"',
    ]);
    expect(p.lines()).toContain('[info] no user/password was provided for basic authentication, client: 127.0.0.1, server: example, request: "GET /any/f HTTP/1.1", host: "example"');
  });

  test('http-level rules apply to every server that sets none; IPv4-mapped and CIDR as nginx', async () => {
    const p = await startAccessProxy(`http { deny 127.0.0.0/8; server { listen 127.0.0.1:0; server_name example; location / { return 200 "x"; } location /f { } } }`);
    // `return` wins; a static location is refused
    expect((await request(p.port, '/')).status).toBe(200);
    expect((await request(p.port, '/f')).status).toBe(403);
  });
});

describe('allow / deny in stream, at the stream level too', () => {
  test('a stream-level deny closes the session of every server without rules of its own, with nginx\'s line', async () => {
    const backend = net.createServer((c) => { c.on('error', () => undefined); c.end('hello'); });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    onTestFinished(() => void backend.close());
    const bport = (backend.address() as net.AddressInfo).port;
    const p = await startAccessProxy(`stream { deny 127.0.0.1; server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${bport}; } server { listen 127.0.0.2:0; allow all; proxy_pass 127.0.0.1:${bport}; } }`);
    const read = (host: string, port: number) => new Promise<string>((resolve) => {
      const c = net.connect(port, host);
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('error', () => resolve(got));
      c.on('close', () => resolve(got));
    });
    const keys = [...p.runtime.addresses().keys()];
    const denied = p.runtime.port(keys.find((k) => k.startsWith('127.0.0.1'))!);
    expect(await read('127.0.0.1', denied)).toBe('');
    expect(await read('127.0.0.2', p.runtime.port(keys.find((k) => k.startsWith('127.0.0.2'))!))).toBe('hello');
    // nginx 1.22 (stream): [error] *1 access forbidden by rule while initializing session, client: 127.0.0.1, server: 127.0.0.1:22948
    await expect.poll(() => p.lines()).toEqual([`[error] access forbidden by rule while initializing session, client: 127.0.0.1, server: 127.0.0.1:${denied}`]);
  });
});
