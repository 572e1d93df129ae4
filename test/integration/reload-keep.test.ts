/**
 * A reload compiles only the server blocks that changed (runtime/config-splice.ts, snapshot.ts
 * keepableSite): the others keep their compiled form and upstream groups, as long as nothing they
 * read changed. Through the real command line: each reload's `serversCompiled` says how many were
 * compiled, and every server answers as a fresh start with that config would (a kept server
 * that should have been compiled again answers with the old map value or the old upstream).
 */
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { freePort, logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { request, startHttpBackend } from '../helpers/backend.js';

const reloaded = (run: RunningCli) => logRecords(run).filter((r) => r.msg === 'configuration reloaded');

describe('a reload keeps what did not change', () => {
  // worker_processes 2: the primary sends the workers what the load thread sent it (config-transfer.ts)
  test.each([1, 2])('worker_processes %i: only changed servers are compiled; a map, an upstream or a failed reload are honoured', async (workers) => {
    const one = await startHttpBackend('one');
    const two = await startHttpBackend('two');
    const dir = tempDir();
    const port = await freePort();
    const busy = await freePort();
    const conf = path.join(dir, 'main.conf');
    const write = (o: { c: string; map: string; backend: number; extra?: string }) => fs.writeFileSync(conf, `error_log stderr info;\npid off;\nhttp {
  map $uri $m { default "${o.map}"; }
  upstream u { server 127.0.0.1:${o.backend}; }
  server { listen 127.0.0.1:${port}; server_name a.test; location / { proxy_pass http://u; } }
  server { listen 127.0.0.1:${port}; server_name b.test; location / { return 200 "b $m"; } }
  server { listen 127.0.0.1:${port}; server_name c.test; location / { return 200 "${o.c}"; } }
${o.extra ?? ''}}\n`);
    const answers = async () => {
      const out: string[] = [];
      for (const host of ['a.test', 'b.test', 'c.test']) {
        const res = await request(`http://127.0.0.1:${port}/`, { headers: { host } });
        out.push(`${res.status} ${res.body}`);
      }
      return out;
    };
    const reload = async (n: number) => {
      run.child.kill('SIGHUP');
      await expect.poll(() => reloaded(run).length + logRecords(run).filter((r) => r.msg === 'reload failed, keeping the running configuration').length, { timeout: 20_000 }).toBe(n);
    };

    write({ c: 'c1', map: 'm1', backend: one.port });
    const run = startCli(['-c', conf, '-g', `watch off; worker_processes ${workers};`]);
    await expect.poll(() => logRecords(run).filter((r) => r.msg === 'tsproxy started').length, { timeout: 20_000 }).toBe(1);
    expect(await answers()).toEqual(['200 one', '200 b m1', '200 c1']);

    // one server changes: it alone is compiled
    write({ c: 'c2', map: 'm1', backend: one.port });
    await reload(1);
    expect(reloaded(run)[0]!.serversCompiled).toBe('1');
    // the summary's diff (made by the load thread against the running config)
    expect(reloaded(run)[0]!.servers).toBe('{"added":0,"changed":1,"removed":0}');
    expect(await answers()).toEqual(['200 one', '200 b m1', '200 c2']);

    // the map changes (the http level): every server is compiled, b answers the new value
    write({ c: 'c2', map: 'm2', backend: one.port });
    await reload(2);
    expect(reloaded(run)[1]!.serversCompiled).toBe('3');
    expect(await answers()).toEqual(['200 one', '200 b m2', '200 c2']);

    // the upstream changes, no server block does: a, whose plans hold its group, is compiled and proxies to the new backend
    write({ c: 'c2', map: 'm2', backend: two.port });
    await reload(3);
    expect(reloaded(run)[2]!.serversCompiled).toBe('1');
    expect(await answers()).toEqual(['200 two', '200 b m2', '200 c2']);

    // a reload that fails after its build (a port another process holds) keeps the running
    // config whole, kept groups included; the next good reload compiles only what changed
    const holder = net.createServer().listen(busy, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    write({ c: 'c3', map: 'm2', backend: two.port, extra: `  server { listen 127.0.0.1:${busy}; return 200 "d"; }\n` });
    await reload(4);
    expect(logRecords(run).filter((r) => r.msg === 'reload failed, keeping the running configuration')).toHaveLength(1);
    expect(await answers()).toEqual(['200 two', '200 b m2', '200 c2']);
    holder.close();
    write({ c: 'c3', map: 'm2', backend: two.port });
    await reload(5);
    expect(reloaded(run)[3]!.serversCompiled).toBe('1');
    expect(await answers()).toEqual(['200 two', '200 b m2', '200 c3']);

    // c answers to another name: the listen's name index is built anew (the old name goes to the default server, a)
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('server_name c.test;', 'server_name c2.test;'));
    await reload(6);
    expect(reloaded(run)[4]!.serversCompiled).toBe('1');
    expect(await answers()).toEqual(['200 two', '200 b m2', '200 two']);
    expect((await request(`http://127.0.0.1:${port}/`, { headers: { host: 'c2.test' } })).body).toBe('c3');

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  }, 90_000);
});
