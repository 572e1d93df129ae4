/**
 * auth_request / auth_request_set and `internal`, the oauth2-proxy pattern, against nginx 1.22's
 * behaviour (a real nginx was run with the same locations and a node auth service): the
 * subrequest is a GET of the auth URI with the client's headers and no body, $request_uri and
 * $request_method stay the client's; 2xx lets the request through (its body then reaches the
 * app), 401 (with the service's WWW-Authenticate) and 403 are passed on, anything else is 500
 * with `auth request unexpected status: N while sending to client`; auth_request_set variables
 * are set whatever the status; an internal location is 404 from outside.
 */
import http from 'node:http';
import { describe, expect, test, onTestFinished } from 'vitest';
import { startHttpBackend, type HttpBackend } from '../../helpers/backend.js';
import { closedPort } from '../upstream-helpers.js';
import { h2connect, h2request } from '../../http2/h2-helpers.js';
import { startAccessProxy, request } from './helpers.js';

async function services(): Promise<{ auth: HttpBackend; app: HttpBackend }> {
  const auth = await startHttpBackend('auth', (req, res) => {
    req.resume();
    if (req.url!.startsWith('/oauth2/sign_in')) {
      res.writeHead(302, { Location: `https://idp.example/login?rd=${String(req.headers['x-rd'])}` });
      res.end('go');
      return;
    }
    const want = Number(req.headers['x-want'] ?? 200);
    res.writeHead(want, { 'X-User': 'alice', 'WWW-Authenticate': 'Bearer realm="svc"' });
    res.end('auth body');
  });
  const app = await startHttpBackend('app', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => res.end(`app user=${String(req.headers['x-user'])} body=${body}`));
  });
  return { auth, app };
}

function config(auth: number, app: number, down: number): string {
  return `http {
  access_log off;
  server {
    listen 127.0.0.1:0;
    server_name example;
    location = /oauth2/auth {
      internal;
      proxy_pass http://127.0.0.1:${auth};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-M $request_method;
    }
    location = /authuri { internal; proxy_pass http://127.0.0.1:${auth}/verify; }
    location = /authdown { proxy_pass http://127.0.0.1:${down}; }
    location /app {
      auth_request /oauth2/auth;
      auth_request_set $user $upstream_http_x_user;
      auth_request_set $st $upstream_status;
      proxy_set_header X-User $user;
      proxy_pass http://127.0.0.1:${app};
      add_header X-St $st always;
    }
    location /app2 { auth_request /authuri; proxy_pass http://127.0.0.1:${app}; }
    location /app3 { auth_request /authdown; proxy_pass http://127.0.0.1:${app}; }
    location /rw { rewrite ^ /oauth2/auth last; }
    location /any { satisfy any; allow 127.0.0.1; auth_request /oauth2/auth; proxy_pass http://127.0.0.1:${app}; }
    location /oauth2/ { proxy_pass http://127.0.0.1:${auth}; proxy_set_header X-Rd $request_uri; }
    location = /local401 { internal; return 401; }
    location = /local204 { internal; return 204; }
    location /local { auth_request /local401; proxy_pass http://127.0.0.1:${app}; location /local/ok { auth_request /local204; proxy_pass http://127.0.0.1:${app}; } location /local/off { auth_request off; proxy_pass http://127.0.0.1:${app}; } }
    location /signed { auth_request /oauth2/auth; error_page 401 = /oauth2/sign_in; proxy_pass http://127.0.0.1:${app}; }
  }
}`;
}

describe('auth_request', () => {
  test('2xx lets the request (and its body) through, with auth_request_set values in proxy_set_header; the subrequest as nginx sends it', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    for (const want of ['200', '204']) {
      const r = await request(p.port, '/app/x?q=1', { method: 'POST', body: 'hello', headers: { 'x-want': want, 'content-type': 'text/plain' } });
      expect([r.status, r.body, r.headers['x-st']]).toEqual([200, 'app user=alice body=hello', want]);
    }
    const seen = auth.seen[0]!;
    expect([seen.method, seen.url, seen.headers['x-original-uri'], seen.headers['x-m'], seen.headers['x-want']]).toEqual(['GET', '/oauth2/auth', '/app/x?q=1', 'POST', '200']);
    expect(seen.headers['content-length']).toBeUndefined();
    expect(seen.headers['transfer-encoding']).toBeUndefined();
    // a proxy_pass with a URI replaces the location's, as for any request
    expect((await request(p.port, '/app2/z')).status).toBe(200);
    expect(auth.seen.at(-1)!.url).toBe('/verify');
  });

  test('401 with the service\'s WWW-Authenticate and 403 are passed on; other statuses are 500 with nginx\'s line', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    const unauthorized = await request(p.port, '/app/x', { headers: { 'x-want': '401' } });
    expect([unauthorized.status, unauthorized.headers['www-authenticate'], unauthorized.headers['x-st']]).toEqual([401, 'Bearer realm="svc"', '401']);
    expect(unauthorized.body).toContain('<title>401 Authorization Required</title>');
    expect((await request(p.port, '/app/x', { headers: { 'x-want': '403' } })).status).toBe(403);
    for (const want of ['302', '404', '500']) expect((await request(p.port, '/app/x', { headers: { 'x-want': want } })).status).toBe(500);
    expect(app.requests).toBe(0);
    const ctx = 'client: 127.0.0.1, server: example, request: "GET /app/x HTTP/1.1", host: "example"';
    await expect.poll(() => p.lines()).toEqual(['302', '404', '500'].map((s) => `[error] auth request unexpected status: ${s} while sending to client, ${ctx}`));
  });

  test('oauth2-proxy sign-in: error_page 401 = /oauth2/sign_in answers with the sign-in redirect, $request_uri still the client\'s', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    const r = await request(p.port, '/signed/x?y=1', { headers: { 'x-want': '401' } });
    expect([r.status, r.headers.location]).toEqual([302, 'https://idp.example/login?rd=/signed/x?y=1']);
    expect(auth.seen.map((s) => s.url)).toEqual(['/oauth2/auth', '/oauth2/sign_in']);
    expect(app.requests).toBe(0);
  });

  test('an auth location that answers by itself (`return`), and auth_request off below', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    const refused = await request(p.port, '/local/x');
    expect([refused.status, refused.headers['www-authenticate']]).toEqual([401, undefined]);
    expect((await request(p.port, '/local/ok/x')).status).toBe(200);
    expect((await request(p.port, '/local/off/x')).status).toBe(200);
    expect(app.requests).toBe(2);
  });

  test('an auth service that cannot be reached: 500, the subrequest named in the upstream line', async () => {
    const { auth, app } = await services();
    const down = await closedPort();
    const p = await startAccessProxy(config(auth.port, app.port, down));
    expect((await request(p.port, '/app3/z')).status).toBe(500);
    const ctx = 'client: 127.0.0.1, server: example, request: "GET /app3/z HTTP/1.1"';
    await expect.poll(() => p.lines()).toEqual([
      `[error] connect() failed (111: Connection refused) while connecting to upstream, ${ctx}, subrequest: "/authdown", upstream: "http://127.0.0.1:${down}/authdown", host: "example"`,
      `[error] auth request unexpected status: 502 while sending to client, ${ctx}, host: "example"`,
    ]);
  });

  test('internal: 404 from outside, reachable through a rewrite; satisfy any with an allowed address asks nobody', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    expect((await request(p.port, '/oauth2/auth')).status).toBe(404);
    expect(auth.requests).toBe(0);
    expect((await request(p.port, '/rw')).status).toBe(200);
    expect(auth.requests).toBe(1);
    expect((await request(p.port, '/any/z', { headers: { 'x-want': '401' } })).status).toBe(200);
    expect(auth.requests).toBe(1);
  });

  test('keep-alive POSTs behind auth_request: each body waits for the verdict and reaches the app', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const bodies = ['first', 'x'.repeat(200_000), 'third'];
    const replies = await Promise.all(bodies.map((body) => request(p.port, '/app/k', { method: 'POST', body, agent })));
    expect(replies.map((r) => [r.status, r.body.length])).toEqual(bodies.map((b) => [200, `app user=alice body=${b}`.length]));
    expect(app.sockets).toBeGreaterThan(0);
  });

  test('HTTP/2: the body of a stream waits for the verdict too', async () => {
    const { auth, app } = await services();
    const p = await startAccessProxy(config(auth.port, app.port, await closedPort()).replace('listen 127.0.0.1:0;', 'listen 127.0.0.1:0 http2;'));
    const session = await h2connect(`http://127.0.0.1:${p.port}`);
    const ok = await h2request(session, { ':method': 'POST', ':path': '/app/h2', host: 'example' }, 'y'.repeat(100_000));
    expect([ok.status, ok.text]).toEqual([200, `app user=alice body=${'y'.repeat(100_000)}`]);
    const refused = await h2request(session, { ':method': 'POST', ':path': '/app/h2', host: 'example', 'x-want': '401' }, 'z'.repeat(100_000));
    expect([refused.status, refused.headers['www-authenticate']]).toEqual([401, 'Bearer realm="svc"']);
    expect(app.requests).toBe(1);
  });
});
