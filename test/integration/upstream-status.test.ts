/**
 * check_status through the proxy: formats, `?format=`, the tcp_check_status alias, and one page
 * for the upstreams of both http {} and stream {}.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { closedPort, send, startLoggedProxy } from './upstream-helpers.js';
import type { StatusDocument } from '../../src/core/status/document.js';

function get(url: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      })
      .on('error', reject);
  });
}

describe('check_status through the proxy', () => {
  it('serves every format with its Content-Type, ?format= overriding the directive', async () => {
    const a = await startHttpBackend('A');
    const dead = await closedPort();
    const streamPort = await closedPort();
    const proxy = await startLoggedProxy(
      `http {
        upstream app {
          server 127.0.0.1:${a.port}; server 127.0.0.1:${dead};
          check interval=50 rise=1 fall=1 timeout=500 default_down=true type=tcp;
        }
        server { listen 127.0.0.1:0;
          location /html { check_status; }
          location /json { check_status json; }
          location /prom { check_status prometheus; }
          location /tcp { tcp_check_status json; }
          location / { proxy_pass http://app; }
        }
      }
      stream {
        upstream db { server 127.0.0.1:${a.port}; server 127.0.0.1:${dead}; check interval=50 rise=1 fall=1 type=tcp; }
        server { listen 127.0.0.1:${streamPort}; proxy_pass db; }
      }`,
      '127.0.0.1:0',
    );
    const json = async (path: string) => JSON.parse((await get(proxy.url(path))).body) as StatusDocument;
    const states = (doc: StatusDocument) =>
      doc.upstreams.map((u) => `${u.context} ${u.name}: ${u.peers.map((p) => `${p.key.replace(/.*:/, '') === String(a.port) ? 'live' : 'dead'}=${p.state}`).join(' ')}`);
    const expected = ['http app: live=up dead=down', 'stream db: live=up dead=down'];
    await expect.poll(async () => states(await json('/json')), { timeout: 5000 }).toEqual(expected);
    expect(states(await json('/tcp'))).toEqual(expected);
    expect(states(await json('/html?format=json'))).toEqual(expected);
    expect(states(await json('/prom?x=1&format=json'))).toEqual(expected);

    const html = await get(proxy.url('/html'));
    expect(html.status).toBe(200);
    expect(html.type).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('<meta http-equiv="refresh"');
    expect(html.body).toMatch(/<h2>.*app/);
    expect(html.body).toMatch(/<h2>.*db/);
    for (const path of ['/json?format=html', '/tcp?format=html']) {
      const r = await get(proxy.url(path));
      expect(r.type).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('<table');
    }

    const prom = await get(proxy.url('/prom'));
    expect(prom.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(prom.body).toContain(`tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:${a.port}"} 1`);
    expect(prom.body).toContain(`tsproxy_upstream_peer_up{context="stream",upstream="db",peer="127.0.0.1:${dead}"} 0`);
    expect((await get(proxy.url('/json?format=prometheus'))).type).toBe('text/plain; version=0.0.4; charset=utf-8');

    // an unknown format is ignored, not an error
    const odd = await get(proxy.url('/json?format=xml'));
    expect(odd.status).toBe(200);
    expect(odd.type).toBe('application/json');

    // the counters move with traffic
    for (let i = 0; i < 3; i++) expect((await send(proxy.url('/'), { agent: false })).status).toBe(200);
    const live = (await json('/json')).upstreams[0]!.peers.find((p) => p.key === `127.0.0.1:${a.port}`)!;
    expect(live.requests).toBe(3);
    expect(live.check?.lastAt).not.toBeNull();
  });
});
