/**
 * A reload that keeps unchanged servers (config-splice.ts, snapshot.ts) shares objects between
 * the config in service and the next one; nothing may link a config to the one before it, or every
 * config since the start would stay in memory (a closure of the snapshot that named the previous
 * snapshot did: ~4 MB more heap per reload of a 10,000-server config).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect, onTestFinished, test } from 'vitest';
import { pino } from 'pino';
import { FileReads } from '../../src/config/file-reads.js';
import { configDigests } from '../../src/runtime/diff.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { ConfigLoadThread } from '../../src/runtime/threaded-load.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('the configs a reload replaced are collected, kept servers or not', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-keep-mem-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'main.conf');
  const write = (n: number) => fs.writeFileSync(conf, `pid off;\nhttp {\n  upstream u { server 127.0.0.1:9; }\n${
    Array.from({ length: 20 }, (_, i) => `  server { listen 127.0.0.1:0; server_name s${i}.test; location / { ${i === 3 ? `return 200 "g${n}";` : 'proxy_pass http://u;'} } }\n`).join('')}}\n`);
  const thread = new ConfigLoadThread();
  onTestFinished(() => thread.close());
  const request = { configPath: conf, prefix: dir };
  write(0);
  const refs: WeakRef<object>[] = [];
  const runtime = await (async () => {
    const start = (await thread.load(request, new FileReads())).config!;
    configDigests(start); // as serve() does before serving
    refs.push(new WeakRef(start));
    return Runtime.start(start, { logger: pino({ level: 'silent' }) });
  })();
  onTestFinished(() => runtime.stop());
  for (let n = 1; n <= 3; n++) {
    write(n);
    const next = (await thread.load(request, new FileReads(), runtime.config)).config!;
    const summary = await runtime.reload(next);
    expect(summary.serversCompiled).toBe(1);
    if (n < 3) refs.push(new WeakRef(next));
  }
  // every replaced config goes (the after-swap steps run in slices first)
  await expect.poll(() => {
    gc();
    return refs.filter((r) => r.deref() !== undefined).length;
  }, { timeout: 10_000, interval: 50 }).toBe(0);
  expect(runtime.config.http!.servers).toHaveLength(20);
});
