/**
 * Health state survives reload: peers the checks found up stay up through a reload (no window of
 * "no live upstreams"), and a peer new to the config starts as default_down says (down, probed at
 * once until `rise`).
 */
import { describe, expect, it } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { configFrom } from '../helpers/proxy.js';
import { countBy, keepAliveAgent, peerStateIn, send, startLoggedProxy, statusJson, type Reply } from './upstream-helpers.js';

function config(ports: number[], extraServer: string): string {
  return `http {
    upstream app {
      ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')}
      check interval=100 rise=2 fall=2 timeout=500 default_down=true type=http;
    }
    server { listen 127.0.0.1:0;
      location = /status { check_status json; }
      location / { proxy_pass http://app; }
    }
    ${extraServer}
  }`;
}

describe('upstream health across reloads', () => {
  it('keeps checked peers up through reloads while traffic flows; a new peer starts down', async () => {
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(config([a!.port, b!.port], ''), '127.0.0.1:0');
    const states = async (ports: number[]) => {
      const doc = await statusJson(proxy.url('/status'));
      return ports.map((p) => peerStateIn(doc, 'app', p));
    };
    // default_down=true: the peers start down and are probed at once, back to back until `rise`
    await expect.poll(() => states([a!.port, b!.port]), { timeout: 1000 }).toEqual(['up', 'up']);

    const agent = keepAliveAgent(4);
    const replies: Reply[] = [];
    let stop = false;
    const traffic = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          replies.push(await send(proxy.url('/x'), { agent }));
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    );
    await expect.poll(() => replies.length, { timeout: 5000 }).toBeGreaterThan(50);

    // 1: another server block: same upstream, same peers
    const extra = `server { listen 127.0.0.1:0; server_name other.test; location / { return 200 "other"; } }`;
    await proxy.runtime.reload(configFrom(config([a!.port, b!.port], extra)));
    expect(await states([a!.port, b!.port])).toEqual(['up', 'up']);
    let mark = replies.length;
    await expect.poll(() => replies.length, { timeout: 5000 }).toBeGreaterThan(mark + 50);

    // 2: a new peer joins: the known ones stay up, the new one (down by default) is probed at once
    await proxy.runtime.reload(configFrom(config([a!.port, b!.port, c!.port], extra)));
    expect(await states([a!.port, b!.port])).toEqual(['up', 'up']);
    await expect.poll(() => states([c!.port]), { timeout: 1000 }).toEqual(['up']);
    mark = replies.length;
    await expect.poll(() => c!.seen.filter((s) => s.url === '/x').length, { timeout: 5000 }).toBeGreaterThan(5);

    stop = true;
    await traffic;
    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
    expect(Object.keys(countBy(replies)).sort()).toEqual(['A', 'B', 'C']);
    // only state changes are logged: each peer came up once, none went down
    const changes = proxy.logs.filter((l) => /^peer .* in upstream app is (up|down)/.test(l.msg)).map((l) => l.msg);
    expect(changes.sort()).toEqual(
      [a!.port, b!.port, c!.port].map((p) => `peer 127.0.0.1:${p} in upstream app is up`).sort(),
    );
  });
});
