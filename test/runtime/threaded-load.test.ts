/**
 * A reload's load thread (runtime/threaded-load.ts): what the real thread returns is what a direct
 * load returns (problems as ConfigError with code, position and severity; the Config deep-equal,
 * same hash, -g applied). A thread that fails is a failed reload, never a failed process: one
 * that hangs is ended after the timeout, one that exits or throws rejects with the reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfigFile } from '../../src/config/load.js';
import { FileReads } from '../../src/config/file-reads.js';
import { ConfigLoadThread } from '../../src/runtime/threaded-load.js';

const fixture = (name: string) => new URL(`../fixtures/load-thread/${name}`, import.meta.url);
const request = { configPath: '/nonexistent/tsproxy.conf', prefix: '/nonexistent' };

describe('ConfigLoadThread', () => {
  test('a thread that does not answer in time is ended and the load rejected', async () => {
    const before = performance.now();
    await expect(new ConfigLoadThread({ entry: fixture('hangs.mjs'), timeoutMs: 300 }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread did not answer within 300 ms');
    expect(performance.now() - before).toBeLessThan(5_000);
  });

  test('a thread that exits before answering rejects with its exit code', async () => {
    await expect(new ConfigLoadThread({ entry: fixture('exits.mjs') }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread exited with code 3 before answering');
  });

  test('a thread that throws rejects with its error', async () => {
    await expect(new ConfigLoadThread({ entry: fixture('throws.mjs') }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread failed: boom in the thread');
  });
});

/** A temporary config directory and a real load thread, both gone when the test ends. */
function loadSetup(): { dir: string; conf: string; thread: ConfigLoadThread } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-thread-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const thread = new ConfigLoadThread();
  onTestFinished(() => thread.close());
  return { dir, conf: path.join(dir, 'main.conf'), thread };
}

describe('ConfigLoadThread with the real loader thread', () => {
  test('problems come back as ConfigError (code, loc, severity); a good config equals a direct load, with its hash', async () => {
    const { dir, conf, thread } = loadSetup();
    fs.writeFileSync(conf, 'pid off;\nhttp {\n  server { listen 127.0.0.1:8080; server_name a.test; location / { retur 200; } }\n  server { listen 127.0.0.1:8080; server_name a.test; }\n}\n');
    const bad = await thread.load({ configPath: conf, prefix: dir }, new FileReads());
    const direct = loadConfigFile(conf, { prefix: dir });
    expect(bad.config).toBeNull();
    expect(bad.errors.length).toBe(1);
    expect(bad.errors[0]).toBeInstanceOf(ConfigError);
    expect(bad.errors.map((e) => [e.code, e.message, e.loc, e.severity])).toEqual(direct.errors.map((e) => [e.code, e.message, e.loc, e.severity]));
    expect(bad.warnings[0]).toBeInstanceOf(ConfigError);
    expect(bad.warnings.map((e) => [e.code, e.message, e.loc, e.severity])).toEqual(direct.warnings.map((e) => [e.code, e.message, e.loc, e.severity]));
    expect(bad.warnings[0]!.severity).toBe('warn');

    fs.writeFileSync(conf, 'pid off;\nhttp {\n  server { listen 127.0.0.1:8080; server_name a.test; location / { return 200 "x"; } location ~ ^/r { return 204; } }\n}\n');
    const good = await thread.load({ configPath: conf, prefix: dir, globals: 'worker_processes 3;' }, new FileReads());
    const expected = loadConfigFile(conf, { prefix: dir, globals: 'worker_processes 3;' }).config!;
    expect(good.config).toStrictEqual(expected);
    expect(good.config!.hash).toBe(expected.hash);
    expect(good.config!.main.workerProcesses).toBe(3);
    expect(Object.isFrozen(good.config)).toBe(false);
  });
});

describe('ConfigLoadThread with the running config (config-splice.ts)', () => {
  const text = (servers: string[], upstreams: string) => `pid off;\nhttp {\n${upstreams}${servers.join('')}}\nstream {\n  upstream t { server 127.0.0.1:7001; }\n  server { listen 127.0.0.1:7000; proxy_pass t; }\n}\n`;
  const server = (name: string, body: string) => `  server { listen 127.0.0.1:8080; server_name ${name}; location / { ${body} } }\n`;
  // two servers with the same listen and no name: their keys repeat (diff.ts numbers them)
  const nameless = (port: number, body: string) => `  server { listen 127.0.0.1:${port}; location / { ${body} } }\n`;

  test('unchanged servers and upstreams are the running objects; changed, added and moved ones are as a direct load gives them', async () => {
    const { dir, conf, thread } = loadSetup();
    const upstreams = '  upstream u1 { server 127.0.0.1:9001; }\n  upstream u2 { server 127.0.0.1:9002; }\n';
    fs.writeFileSync(conf, text([server('a.test', 'return 200 "a";'), server('b.test', 'proxy_pass http://u1;'), nameless(8081, 'return 200 "n1";'), nameless(8081, 'return 200 "n2";')], upstreams));
    const first = await thread.load({ configPath: conf, prefix: dir }, new FileReads());
    const running = first.config!;

    // b changes; c is added before the nameless pair; u2 changes; a blank line above moves everything
    const upstreams2 = '  upstream u1 { server 127.0.0.1:9001; }\n  upstream u2 { server 127.0.0.1:9003; }\n';
    fs.writeFileSync(conf, `\n${text([server('a.test', 'return 200 "a";'), server('b.test', 'proxy_pass http://u2;'), server('c.test', 'return 200 "c";'), nameless(8081, 'return 200 "n1";'), nameless(8081, 'return 200 "n2-changed";')], upstreams2)}`);
    const next = await thread.load({ configPath: conf, prefix: dir }, new FileReads(), running);
    const direct = loadConfigFile(conf, { prefix: dir }).config!;
    const [a, b, c, n1, n2] = next.config!.http!.servers;
    expect(a).toBe(running.http!.servers[0]);
    expect(n1).toBe(running.http!.servers[2]);
    for (const changed of [b, c, n2]) expect(running.http!.servers).not.toContain(changed);
    expect(next.config!.http!.upstreams[0]).toBe(running.http!.upstreams[0]);
    expect(next.config!.http!.upstreams[1]).not.toBe(running.http!.upstreams[1]);
    expect(next.config!.stream!.servers[0]).toBe(running.stream!.servers[0]);
    expect(next.config!.stream!.upstreams[0]).toBe(running.stream!.upstreams[0]);
    // a kept item keeps the running config's positions (one line higher); everything else is the direct load
    const withoutLoc = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'loc' ? undefined : x)));
    expect(withoutLoc(next.config)).toEqual(withoutLoc(direct));
    expect(next.config!.hash).toBe(direct.hash);
    expect(b).toStrictEqual(direct.http!.servers[1]);
    expect(a!.loc.line).toBe(direct.http!.servers[0]!.loc.line - 1);
  });
});
