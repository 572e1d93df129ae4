/**
 * `tsproxy --explain` on the command line: the README's config (conf/tsproxy.conf) explained and
 * run (ports moved), the peer the explanation names first is the one that answers, health from the
 * running instance's status document; config and request errors exit 1 as -t does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import type { Explanation } from '../../src/runtime/explain/types.js';
import { explainCommand } from '../../src/runtime/explain/command.js';
import { parseExplainRequest } from '../../src/runtime/explain/explain.js';
import { ROOT, freePort, runCli, tempDir } from '../helpers/cli.js';

test('the README config: explained, then run; the first peer named answers, health from --status', async () => {
  // As shipped: the text names the upstream, its peers and the request head.
  const shipped = await runCli(['-p', ROOT, '-c', 'conf/tsproxy.conf', '--explain', 'GET http://127.0.0.1:8080/hello', '-H', 'X-Trace: 1']);
  expect(shipped.stderr).toBe('');
  expect(shipped.code).toBe(0);
  expect(shipped.stdout).toContain('server: localhost (tsproxy.conf:');
  expect(shipped.stdout).toContain('content: proxy_pass to upstream "app" (round_robin)');
  expect(shipped.stdout).toContain('peers: 127.0.0.1:8081 [unknown], 127.0.0.1:8082 [unknown]');
  expect(shipped.stdout).toContain('would try: 127.0.0.1:8081 -> 127.0.0.1:8082');
  expect(shipped.stdout).toMatch(/request head sent:\n {4}GET \/hello HTTP\/1\.1\n {4}Host: app\n {4}X-Trace: 1\n/);

  // Its ports moved to free ones, running; the explanation as JSON with the running instance's health.
  const dir = tempDir();
  const ports = { 8080: await freePort(), 8081: await freePort(), 8082: await freePort() };
  let text = fs.readFileSync(path.join(ROOT, 'conf/tsproxy.conf'), 'utf8').replace('access_log stdout main;', 'access_log off;');
  for (const [from, to] of Object.entries(ports)) text = text.replaceAll(`:${from}`, `:${to}`);
  const file = path.join(dir, 'tsproxy.conf');
  fs.writeFileSync(file, text);
  const loaded = loadConfigFile(file, { prefix: dir });
  const runtime = await Runtime.start(loaded.config!);
  onTestFinished(() => runtime.stop({ graceful: false }));
  const front = `http://127.0.0.1:${ports[8080]}`;
  // the active checks have seen both demo backends
  await expect.poll(async () => JSON.stringify(await (await fetch(`${front}/status?format=json`)).json()), { timeout: 10_000 }).toMatch(/"state":"up".*"state":"up"/);

  const run = await runCli(['-c', file, '--explain', `GET ${front}/`, '--status', `${front}/status?format=json`, '--explain-format', 'json']);
  expect(run.stderr).toBe('');
  const e = JSON.parse(run.stdout) as Explanation;
  expect(e.schema).toBe('tsproxy-explain/1');
  expect(e.server).toMatchObject({ name: 'localhost', how: 'exact', matchedName: '127.0.0.1' });
  expect(e.location).toMatchObject({ name: '/' });
  if (e.content.kind !== 'proxy') throw new Error(run.stdout);
  expect(e.content.peers).toEqual([
    { peer: `127.0.0.1:${ports[8081]}`, backup: false, health: 'up' },
    { peer: `127.0.0.1:${ports[8082]}`, backup: false, health: 'up' },
  ]);
  // The first peer named answers the first proxied request (only the checks have run so far).
  const answer = await (await fetch(`${front}/`)).text();
  expect(e.content.order[0]).toBe(`127.0.0.1:${ports[8081]}`);
  expect(answer).toBe('hello from backend A\n');

  // = /status: check_status answers locally (in-process: the command line's own function)
  const status = await explainCommand(loaded.config!, loaded.sources, { request: `GET ${front}/status`, headers: [], from: null, listen: null, sni: null, status: null, format: 'json' }, dir);
  expect(JSON.parse(status)).toMatchObject({ location: { name: '= /status' }, content: { kind: 'answer', status: 200, handler: 'checkStatus' } });
}, 60_000);

test('a config error exits 1 as -t does; so does a request no listen takes', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'bad.conf');
  fs.writeFileSync(file, 'events {}\nhttp { server { listen 127.0.0.1:8080; location / { proxy_pass http://nowhere-group; } bogus_directive; } }\n');
  const bad = await runCli(['-c', file, '--explain', 'GET http://x:8080/']);
  expect(bad.code).toBe(1);
  expect(bad.stdout).toBe('');
  expect(bad.stderr).toContain('unknown directive "bogus_directive"');
  expect(bad.stderr).toContain(`configuration file ${file} test failed`);

  fs.writeFileSync(file, 'events {}\nhttp { server { listen 127.0.0.1:8080; location / { return 200; } } }\n');
  const port = await runCli(['-c', file, '--explain', 'GET http://x:9999/']);
  expect(port.code).toBe(1);
  expect(port.stderr).toBe('tsproxy: [error] no http or tcp server listens on port 9999 (listens: 127.0.0.1:8080); name one with --listen\n');
  expect(() => parseExplainRequest('GET /relative')).toThrow('--explain wants "METHOD http[s]://host[:port]/path?query", not "GET /relative"');
  expect(parseExplainRequest('https://[::1]/a?b')).toEqual({ method: 'GET', scheme: 'https', authority: '[::1]', hostName: '[::1]', port: 443, target: '/a?b' });
}, 60_000);

test('the README example is what --explain prints for examples/explain-shop.conf', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Explaining a request'));
  const m = /```\n\$ tsproxy -c (\S+) --explain '([^']+)' --from (\S+)\n([\s\S]*?)```/.exec(section)!;
  const file = path.join(ROOT, m[1]!);
  const loaded = loadConfigFile(file, { prefix: path.dirname(file) });
  const out = await explainCommand(loaded.config!, loaded.sources, { request: m[2]!, headers: [], from: m[3]!, listen: null, sni: null, status: null, format: 'text' }, path.dirname(file));
  // $request_id is new for every request
  const stable = (t: string) => t.replace(/[0-9a-f]{32}/g, '<request_id>');
  expect(stable(out)).toBe(stable(m[4]!));
});
