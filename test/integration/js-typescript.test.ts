/**
 * TypeScript handlers (transpiled at load with esbuild, positions kept), `-t` on scripts, and a
 * reload re-importing a changed module while in-flight requests finish on the code they started with.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { freePort, logRecords, runCli, startCli, tempDir } from '../helpers/cli.js';
import { loadConfigFile } from '../../src/config/load.js';
import { startProxyFromFile } from '../helpers/proxy.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/njs');

function copyFixtures(dir: string): void {
  for (const f of ['handler.ts', 'greeting.ts', 'main.js']) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
}

describe('TypeScript handlers', () => {
  const CONFIG = `http {
    js_import ts from DIR/handler.ts;
    server {
      listen 127.0.0.1:0;
      location /hello { js_content ts.hello; }
      location /slow { js_content ts.slow; }
      location /broken { js_content ts.broken; }
    }
  }`;

  test('a .ts module (importing another .ts as ./x.js) answers; module state lives on between requests', async () => {
    const p = await startAccessProxy(CONFIG, copyFixtures);
    const first = await request(p.port, '/hello');
    expect([first.status, first.body]).toEqual([200, 'hello from TypeScript at /hello (GET, njs 0.7.9)']);
    expect(first.headers['x-hits']).toBe('1');
    expect((await request(p.port, '/hello')).headers['x-hits']).toBe('2');
    expect((await request(p.port, '/slow?who=ts')).body).toBe('later ts');
  });

  test('a throw in a .ts handler is logged at its position in the .ts file (a tsproxy process)', async () => {
    // A real process: vitest's own stack-trace mapping would hide Node's source maps in-process.
    const dir = tempDir('tsproxy-js-');
    copyFixtures(dir);
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'nginx.conf'), `error_log stderr info;\nhttp {\n  js_import ts from handler.ts;\n  server { listen 127.0.0.1:${port}; location / { js_content ts.broken; } }\n}\n`);
    const run = startCli(['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    await expect.poll(() => request(port, '/').then((r) => r.status, () => 0), { timeout: 10_000 }).toBe(500);
    await expect.poll(() => logRecords(run).find((l) => l.msg!.startsWith('js exception'))?.msg).toBeDefined();
    // line 23, column 9 of handler.ts (the transpiled module's source map points there)
    expect(logRecords(run).find((l) => l.msg!.startsWith('js exception'))!.msg).toBe(`js exception: Error: typed failure\\x0a    at broken (${dir}/handler.ts:23:9)`);
  });
});

describe('-t loads the modules', () => {
  function conf(dir: string, module: string, fn: string): string {
    const file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, `events {}\nhttp {\n  js_import ${module};\n  server {\n    listen 127.0.0.1:0;\n    location / { js_content ${fn}; }\n  }\n}\n`);
    return file;
  }

  test('a syntax error: the script\'s file:line:col with a caret', async () => {
    const dir = tempDir('tsproxy-js-');
    fs.writeFileSync(path.join(dir, 'bad.js'), 'export default { a() { return 1 }\n  b( {\n}\n');
    const r = await runCli(['-t', '-p', dir, '-c', conf(dir, 'bad.js', 'bad.a')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tsproxy: [emerg] SyntaxError: Expected "}" but found "b" in ${dir}/bad.js:2:3\n  b( {\n  ^`);
    expect(r.stderr).toContain('test failed');
  });

  test('a TypeScript syntax error too', async () => {
    const dir = tempDir('tsproxy-js-');
    fs.writeFileSync(path.join(dir, 'bad.ts'), 'const x: number = ;\nexport default { x };\n');
    const r = await runCli(['-t', '-p', dir, '-c', conf(dir, 'bad.ts', 'bad.x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tsproxy: [emerg] SyntaxError: Unexpected ";" in ${dir}/bad.ts:1:19\nconst x: number = ;\n                  ^`);
  });

  test('an unknown function is an error at its reference (nginx finds out at the request)', async () => {
    const dir = tempDir('tsproxy-js-');
    copyFixtures(dir);
    const r = await runCli(['-t', '-p', dir, '-c', conf(dir, 'main.js', 'main.nothere')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tsproxy: [emerg] "nothere" is not a function of module "main" in ${dir}/nginx.conf:6:29`);
  });

  test('a missing module and an unknown module name are config errors', async () => {
    const dir = tempDir('tsproxy-js-');
    const r = await runCli(['-t', '-p', dir, '-c', conf(dir, 'nope.js', 'other.a')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot find module "nope.js" in ${dir}/nginx.conf:3:13`);
    expect(r.stderr).toContain(`no module "other" is imported (js_import) for "other.a" in ${dir}/nginx.conf:6:29`);
  });

  test('a good config passes', async () => {
    const dir = tempDir('tsproxy-js-');
    copyFixtures(dir);
    const r = await runCli(['-t', '-p', dir, '-c', conf(dir, 'handler.ts', 'handler.hello')]);
    expect(r.stderr).toContain('test is successful');
    expect(r.code).toBe(0);
  });
});

describe('reload', () => {
  test('a changed module is imported again; a request in flight finishes on its old code', async () => {
    const dir = tempDir('tsproxy-js-');
    const script = path.join(dir, 'app.js');
    const version = (v: string, waitMs: number) =>
      `export default { async run(r) { await new Promise((res) => setTimeout(res, ${waitMs})); r.return(200, '${v}'); } };\n`;
    fs.writeFileSync(script, version('one', 400));
    const text = 'http {\n  js_import app.js;\n  server { listen 127.0.0.1:0; location / { js_content app.run; } }\n}\n';
    const proxy = await startProxyFromFile(text, dir);
    const port = proxy.port();
    const inFlight = request(port, '/');
    await new Promise((res) => setTimeout(res, 50));
    fs.writeFileSync(script, version('second', 0));
    const loaded = loadConfigFile(path.join(dir, 'nginx.conf'), { prefix: dir });
    expect(loaded.config).not.toBeNull();
    await proxy.runtime.reload(loaded.config!);
    expect((await request(port, '/')).body).toBe('second');
    expect((await inFlight).body).toBe('one');
  });
});
