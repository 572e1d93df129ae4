/**
 * A protected status page: allow/deny and auth_basic in front of check_status refuse every
 * format (HTML, JSON, Prometheus) and the event stream alike, before any document is built.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { send, startLoggedProxy } from './upstream-helpers.js';

const ASKS: readonly [string, Record<string, string>][] = [
  ['', {}],
  ['?format=json', {}],
  ['?format=prometheus', {}],
  ['?format=events', {}],
  ['', { accept: 'text/event-stream' }],
];

async function statuses(url: (path: string) => string, path: string, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (const [args, extra] of ASKS) out.push((await send(url(path + args), { agent: false, headers: { ...headers, ...extra } })).status);
  return out;
}

describe('a protected check_status', () => {
  it('deny: 403 for HTML, JSON, Prometheus and the event stream; allow lets the same client in', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(
      `http {
        upstream app { server 127.0.0.1:${a.port}; }
        server { listen 127.0.0.1:0;
          location = /status { allow 10.0.0.0/8; deny all; check_status; }
          location = /open { allow 127.0.0.1; deny all; check_status json; }
          location / { proxy_pass http://app; }
        }
      }`,
      '127.0.0.1:0',
    );
    expect(await statuses(proxy.url, '/status')).toEqual([403, 403, 403, 403, 403]);
    const open = await send(proxy.url('/open?format=prometheus'), { agent: false });
    expect(open.status).toBe(200);
    expect(open.body).toContain('tsproxy_upstream_peer_up{');
    // the refusal is logged as nginx's access module logs it
    expect(proxy.logs.some((l) => String(l.msg).includes('access forbidden by rule'))).toBe(true);
  });

  it('auth_basic: 401 without the password for every format, the page with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsproxy-status-auth-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'users'), 'ops:{PLAIN}s3cret\n');
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(
      `http {
        upstream app { server 127.0.0.1:${a.port}; }
        server { listen 127.0.0.1:0;
          location = /status { auth_basic "status"; auth_basic_user_file ${join(dir, 'users')}; check_status; }
          location / { proxy_pass http://app; }
        }
      }`,
      '127.0.0.1:0',
    );
    expect(await statuses(proxy.url, '/status')).toEqual([401, 401, 401, 401, 401]);
    const authorization = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
    const ok = await send(proxy.url('/status?format=json'), { agent: false, headers: { authorization } });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as { schema: number }).schema).toBe(2);
  });

  it("the README's example: its own listen, allow/deny", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Status page'));
    const example = /```nginx\n([\s\S]*?)```/.exec(section)![1]!.replace('127.0.0.1:8081', '127.0.0.1:0');
    const proxy = await startLoggedProxy(`http { ${example} }`, '127.0.0.1:0');
    const res = await send(proxy.url('/status?format=json'), { agent: false });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { schema: number }).schema).toBe(2);
  });
});
