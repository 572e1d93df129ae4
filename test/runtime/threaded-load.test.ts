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

describe('ConfigLoadThread with the real loader thread', () => {
  test('problems come back as ConfigError (code, loc, severity); a good config equals a direct load, with its hash', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-thread-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const conf = path.join(dir, 'main.conf');
    const thread = new ConfigLoadThread();
    onTestFinished(() => thread.close());
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
