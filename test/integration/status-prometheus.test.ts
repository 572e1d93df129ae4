/**
 * check_status prometheus from a running proxy with traffic, validated by the Prometheus
 * project's own parser (Debian's promtool), and check_status as an error_page target.
 */
import { describe, expect, it } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { HAVE_PROMTOOL, promtoolCheck } from '../helpers/promtool.js';
import { closedPort, send, startLoggedProxy } from './upstream-helpers.js';

describe('check_status prometheus', () => {
  it.skipIf(!HAVE_PROMTOOL)('parses with promtool after real traffic, with the counters it saw', async () => {
    const [a, b] = await Promise.all([startHttpBackend('A'), startHttpBackend('B')]);
    const dead = await closedPort();
    const streamPort = await closedPort();
    const proxy = await startLoggedProxy(
      `http {
        upstream app {
          server 127.0.0.1:${a.port} weight=2 max_conns=50; server 127.0.0.1:${dead}; server 127.0.0.1:${b.port} down;
          check interval=50 rise=1 fall=1 timeout=500 default_down=true type=http;
        }
        server { listen 127.0.0.1:0;
          location = /metrics { check_status prometheus; }
          location / { proxy_pass http://app; }
        }
      }
      stream {
        upstream "db \\"main\\"" { server 127.0.0.1:${a.port}; }
        server { listen 127.0.0.1:${streamPort}; proxy_pass "db \\"main\\""; }
      }`,
      '127.0.0.1:0',
    );
    const live = `context="http",upstream="app",peer="127.0.0.1:${a.port}"`;
    await expect.poll(async () => (await send(proxy.url('/metrics'), { agent: false })).body, { timeout: 5000 })
      .toContain(`tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:${dead}"} 0`);
    for (let i = 0; i < 5; i++) expect((await send(proxy.url('/x'), { agent: false })).status).toBe(200);

    const res = await send(proxy.url('/metrics'), { agent: false });
    expect(res.status).toBe(200);
    expect(promtoolCheck(res.body)).toEqual({ status: 0, output: '' });
    const samples = res.body.split('\n');
    expect(samples).toContain(`tsproxy_upstream_peer_up{${live}} 1`);
    expect(samples).toContain(`tsproxy_upstream_peer_requests_total{${live}} 5`);
    expect(samples).toContain(`tsproxy_upstream_peer_weight{${live}} 2`);
    expect(samples).toContain(`tsproxy_upstream_peer_max_conns{${live}} 50`);
    expect(samples).toContain(`tsproxy_upstream_peer_state{context="http",upstream="app",peer="127.0.0.1:${b.port}",state="disabled"} 1`);
    expect(samples).toContain(`tsproxy_upstream_peer_up{context="stream",upstream="db \\"main\\"",peer="127.0.0.1:${a.port}"} 1`);
    expect(samples).toContain(`tsproxy_process_workers 1`);
    expect(samples.some((s) => /^tsproxy_requests_total \d+$/.test(s) && Number(s.split(' ')[1]) >= 6)).toBe(true);
    expect(samples).toContain('# TYPE tsproxy_upstream_peer_response_duration_seconds histogram');
  });

  it('answers as an error_page target, with the error status', async () => {
    const dead = await closedPort();
    const proxy = await startLoggedProxy(
      `http {
        upstream app { server 127.0.0.1:${dead}; }
        server { listen 127.0.0.1:0;
          error_page 502 /status;
          location = /status { check_status json; }
          location / { proxy_pass http://app; }
        }
      }`,
      '127.0.0.1:0',
    );
    const res = await send(proxy.url('/x?format=html'), { agent: false });
    expect(res.status).toBe(502);
    const doc = JSON.parse(res.body) as { schema: number; upstreams: { name: string }[] };
    expect(doc.schema).toBe(2);
    expect(doc.upstreams.map((u) => u.name)).toEqual(['app']);
  });
});
