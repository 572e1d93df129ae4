/**
 * njs scripting in stream {} (js_import, js_set, js_var, js_access, js_preread) through real
 * sockets. The handlers are test/fixtures/njs/stream.js; every expected answer, status and
 * error-log line is what nginx 1.22 + njs 0.7.9 (Debian 12's libnginx-mod-stream-js) gave for
 * the same config and script (checked with a local nginx), except where a comment says otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy } from './access/helpers.js';
import { rawExchange, startRawBackend } from '../helpers/backend.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/stream.js');

async function streamProxy(body: string) {
  const p = await startAccessProxy(`error_log stderr info;\nstream {
  js_import main from DIR/stream.js;
  log_format st "$status";
  access_log DIR/access.log st;
  ${body}
}`, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'stream.js'));
    fs.copyFileSync(path.join(path.dirname(FIXTURE), 'stream-handler.ts'), path.join(dir, 'stream-handler.ts'));
  });
  return { ...p, statuses: () => { try { return fs.readFileSync(path.join(p.dir, 'access.log'), 'utf8').split('\n').filter((l) => l !== ''); } catch { return []; } } };
}

/** A backend that answers `text` to the first bytes and closes (nginx's `return` in the reference config). */
async function answering(text: string): Promise<number> {
  return (await startRawBackend((socket) => socket.end(text))).port;
}

describe('stream js_access (nginx + njs answers)', () => {
  test('s.allow() lets the session on; s.variables reads a map', async () => {
    const p = await streamProxy(`map $server_port $js_deny { default no; }
  server { listen 127.0.0.1:0; js_access main.access; return "ok\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('ok\n');
    await expect.poll(() => p.statuses()).toEqual(['200']);
  });

  test('s.deny() closes the connection with nothing sent, status 403, no error-log line', async () => {
    const p = await streamProxy(`map $server_port $js_deny { default yes; }
  server { listen 127.0.0.1:0; js_access main.access; return "ok\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('');
    await expect.poll(() => p.statuses()).toEqual(['403']);
    expect(p.lines().filter((l) => l.startsWith('[error]'))).toEqual([]);
  });

  test('a throw: "js exception" with the script position, the session closed with 500', async () => {
    const p = await streamProxy(`server { listen 127.0.0.1:0; js_access main.boom; return "ok\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('');
    await expect.poll(() => p.statuses()).toEqual(['500']);
    const line = p.lines().find((l) => l.includes('js exception'));
    expect(line).toMatch(/^\[error\] js exception: Error: boom/);
    expect(p.lines().join('\n')).toMatch(/at boom \(.*stream\.js:\d+/);
  });

  test('s.log / s.warn / s.error lines; a function that gives no verdict closes the session with 500', async () => {
    const p = await streamProxy(`server { listen 127.0.0.1:0; js_access main.logs; return "ok\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('');
    await expect.poll(() => p.statuses()).toEqual(['500']);
    const js = p.lines().filter((l) => l.includes(' js: '));
    expect(js.map((l) => l.replace(/ while .*|, client: .*/, ''))).toEqual(['[info] js: info 127.0.0.1', '[warn] js: warn', '[error] js: error']);
  });
});

describe('stream js_preread + js_set + js_var (nginx + njs answers)', () => {
  test('the first line of the protocol picks the upstream (proxy_pass $backend); the preread bytes go on to it', async () => {
    const a = await answering('A\n');
    const bBackend = await startRawBackend((socket, all) => {
      if (all.includes('rest')) socket.end('B\n');
    });
    const b = bBackend.port;
    const p = await streamProxy(`js_set $backend main.backend;
  js_var $route;
  js_var $backend_a 127.0.0.1:${a};
  js_var $backend_b 127.0.0.1:${b};
  server { listen 127.0.0.1:0; js_preread main.preread; proxy_pass $backend; }`);
    expect(await rawExchange(p.port, 'b\nrest')).toBe('B\n');
    expect(bBackend.received).toEqual(['b\nrest']);
    expect(await rawExchange(p.port, 'a\n')).toBe('A\n');
  });

  test('the same routing written in TypeScript (typed against types/index.d.ts)', async () => {
    const a = await answering('A\n');
    const b = await answering('B\n');
    const p = await streamProxy(`js_import route from DIR/stream-handler.ts;
  js_set $backend route.upstream;
  js_var $route;
  js_var $backend_a 127.0.0.1:${a};
  js_var $backend_b 127.0.0.1:${b};
  server { listen 127.0.0.1:0; js_preread route.route; proxy_pass $backend; }`);
    expect(await rawExchange(p.port, 'b\n')).toBe('B\n');
    expect(await rawExchange(p.port, 'a\n')).toBe('A\n');
  });

  test('js_set in a return value: s.remoteAddress', async () => {
    const p = await streamProxy(`js_set $hello main.hello;
  server { listen 127.0.0.1:0; return "$hello\\n"; }`);
    expect(await rawExchange(p.port, 'x')).toBe('hello 127.0.0.1\n');
  });
});

describe('stream js_filter (nginx + njs answers)', () => {
  test('upload and download handlers rewrite both directions; the download FIN is a last, empty piece', async () => {
    // an echo backend: what it got (upper-cased by the upload handler) comes back, then it closes
    const { port } = await startRawBackend((socket, all) => socket.end(`echo:${all}`));
    const p = await streamProxy(`server { listen 127.0.0.1:0; js_filter main.filter; proxy_pass 127.0.0.1:${port}; }`);
    expect(await rawExchange(p.port, 'abc')).toBe('<echo:ABC><>');
  });
});
