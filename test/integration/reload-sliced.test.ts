/**
 * A reload's snapshot is built in slices (src/time-slicer.ts; HACKING.md "runtime"): traffic is
 * served between the slices, by the old config until the one swap and by the new one after it;
 * a failure anywhere in the build keeps the old config; stop() during the build unwinds it.
 * `reloadSliceMs: 0` gives the event loop a turn after every piece of the build, so a config of a
 * few hundred servers makes a build of many turns.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { Config, HttpServerConfig } from '../../src/config/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { freePort } from '../helpers/cli.js';

const quiet = pino({ level: 'silent' });
const FILLER_SERVERS = 300;

function cfg(text: string): Config {
  const r = loadConfig(text, 'reload-sliced.conf');
  if (r.config === null) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

/** a.test first and b.test last in the file, with filler servers between: their plans are built far apart. */
function configText(generation: number, extraServer = ''): string {
  const filler = Array.from({ length: FILLER_SERVERS }, (_, i) =>
    `server { listen 127.0.0.1:0; server_name f${i}.test; location / { return 200 "f${i}"; } }`).join('\n');
  return `http {
    server { listen 127.0.0.1:0; server_name a.test; location / { return 200 "a ${generation}"; } }
    ${filler}
    ${extraServer}
    server { listen 127.0.0.1:0; server_name b.test; location / { return 200 "b ${generation}"; } }
  }`;
}

async function start(text: string): Promise<Runtime> {
  const rt = await Runtime.start(cfg(text), { logger: quiet, reloadSliceMs: 0, statusHistory: false });
  onTestFinished(() => rt.stop({ graceful: false }));
  return rt;
}

function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  onTestFinished(() => agent.destroy());
  return agent;
}

function get(port: number, host: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(true));
  });
}

/**
 * Requests a.test, b.test, a.test, ... one at a time on one keep-alive connection while `reload`
 * runs; returns every answer, and how many came before the reload settled.
 */
async function trafficDuring(port: number, reload: Promise<unknown>): Promise<{ answers: string[]; beforeSettled: number }> {
  const agent = keepAliveAgent();
  let settled = false;
  const done = reload.then(() => (settled = true), () => (settled = true));
  const answers: string[] = [];
  let beforeSettled = 0;
  while (!settled) {
    answers.push(await get(port, answers.length % 2 === 0 ? 'a.test' : 'b.test', agent));
    if (!settled) beforeSettled++;
  }
  await done;
  // and after: both servers answer from whichever config serves now
  answers.push(await get(port, 'a.test', agent), await get(port, 'b.test', agent));
  return { answers, beforeSettled };
}

describe('a reload built in slices', () => {
  test('serves a steady stream during the build, all by the old config until the swap and all by the new after (never one server new, one old)', async () => {
    const rt = await start(configText(1));
    const port = rt.port('127.0.0.1:0');
    const { answers, beforeSettled } = await trafficDuring(port, rt.reload(cfg(configText(2))));
    // many requests were answered while the build ran (it gave the event loop a turn per piece)
    expect(beforeSettled).toBeGreaterThan(20);
    const generations = answers.map((a) => Number(a.split(' ')[1]));
    const firstNew = generations.indexOf(2);
    expect(firstNew).toBeGreaterThan(20);
    // one switch: everything before it old, everything from it on new, for both servers
    expect(generations.slice(0, firstNew).every((g) => g === 1)).toBe(true);
    expect(generations.slice(firstNew).every((g) => g === 2)).toBe(true);
    expect(answers.slice(-2)).toEqual(['a 2', 'b 2']);
  });

  test('a build that fails at its last server keeps the old config, and the next reload applies', async () => {
    const rt = await start(configText(1));
    const port = rt.port('127.0.0.1:0');
    // A return text nothing defines, past the config check (as a bug in it would let through):
    // the site's build throws at b.test, the last server, after hundreds of slices.
    const good = cfg(configText(2));
    const servers = good.http!.servers;
    const last = servers[servers.length - 1]!;
    const loc = last.locations[0]!;
    const broken: HttpServerConfig = { ...last, locations: [{ ...loc, handler: { kind: 'return', code: 200, text: 'b $nope', loc: loc.loc } }] };
    const bad: Config = { ...good, hash: 'broken', http: { ...good.http!, servers: [...servers.slice(0, -1), broken] } };
    const failing = rt.reload(bad);
    const { answers, beforeSettled } = await trafficDuring(port, failing);
    await expect(failing).rejects.toThrow('template "b $nope" cannot be compiled');
    expect(beforeSettled).toBeGreaterThan(20);
    expect(new Set(answers)).toEqual(new Set(['a 1', 'b 1']));
    expect(rt.config.hash).not.toBe('broken');
    // nothing of the failed build holds the runtime: the next reload goes through
    await rt.reload(good);
    const agent = keepAliveAgent();
    expect([await get(port, 'a.test', agent), await get(port, 'b.test', agent)]).toEqual(['a 2', 'b 2']);
  });

  test('a listen that cannot be bound after the sliced build keeps the old config and opens nothing', async () => {
    const rt = await start(configText(1));
    const port = rt.port('127.0.0.1:0');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => blocker.close(() => r())));
    const busy = (blocker.address() as net.AddressInfo).port;
    const free = await freePort();
    const extra = `server { listen 127.0.0.1:${free}; location / { return 200 "new"; } } server { listen 127.0.0.1:${busy}; location / { return 200 "busy"; } }`;
    const failing = rt.reload(cfg(configText(2, extra)));
    const { answers } = await trafficDuring(port, failing);
    await expect(failing).rejects.toThrow();
    expect(new Set(answers)).toEqual(new Set(['a 1', 'b 1']));
    // the listener the reload had opened before the busy one failed is closed again
    expect(await refused(free)).toBe(true);
  });

  test('stop during a sliced build ends the reload and the runtime cleanly: no listener of the new config stays', async () => {
    const rt = await Runtime.start(cfg(configText(1)), { logger: quiet, reloadSliceMs: 0, statusHistory: false });
    const port = rt.port('127.0.0.1:0');
    const free = await freePort();
    let settled = false;
    const reload = rt.reload(cfg(configText(2, `server { listen 127.0.0.1:${free}; location / { return 200 "new"; } }`)));
    reload.then(() => (settled = true), () => (settled = true));
    // a request answered while the reload runs: the build is under way, yielding
    expect(await get(port, 'a.test', keepAliveAgent())).toBe('a 1');
    expect(settled).toBe(false);
    await rt.stop({ graceful: false });
    await expect(reload).rejects.toThrow('tsproxy is stopping');
    expect(await refused(port)).toBe(true);
    expect(await refused(free)).toBe(true);
  });
});
