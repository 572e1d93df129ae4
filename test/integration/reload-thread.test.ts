/**
 * A reload's load runs in a worker thread (runtime/threaded-load.ts): through the real command
 * line, its problems come back as they were (message, file:line:col, severity), the running
 * config keeps serving, and a fixed config then reloads.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freePort, logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

function body(port: number): Promise<string> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', (e) => resolve(e.message));
  });
}

describe('reload through the load thread', () => {
  test('errors and warnings keep their text and file:line:col; the running config serves on; a fix reloads', async () => {
    const dir = tempDir();
    const port = await freePort();
    fs.mkdirSync(path.join(dir, 'conf.d'));
    const main = path.join(dir, 'main.conf');
    const site = path.join(dir, 'conf.d/a.conf');
    const writeMain = (second: string) => fs.writeFileSync(main,
      `error_log stderr info;\npid off;\nhttp {\n  server { listen 127.0.0.1:${port}; server_name a.test; include conf.d/*.conf; }\n${second}}\n`);
    writeMain('');
    fs.writeFileSync(site, 'location / {\n  return 200 "one";\n}\n');
    const run = startCli(['-c', main, '-g', 'watch off;']);
    await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 20_000 }).toBe(1);
    expect(await body(port)).toBe('one');

    // An unknown directive in the included file (an error) and a conflicting name (a warning).
    writeMain(`  server { listen 127.0.0.1:${port}; server_name a.test; }\n`);
    fs.writeFileSync(site, 'location / {\n  retur 200 "two";\n}\n');
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'reload failed, keeping the running configuration').length, { timeout: 20_000 }).toBe(1);
    const emerg = logRecords(run).filter((r) => r.level === 'emerg');
    expect(emerg.map((r) => r.msg)).toEqual([`unknown directive "retur" - did you mean "return"? in ${site}:2:3`]);
    expect(logRecords(run).filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      `conflicting server name "a.test" on 127.0.0.1:${port}, ignored in ${main}:5:48`,
    ]);
    expect(await body(port)).toBe('one');

    fs.writeFileSync(site, 'location / {\n  return 200 "two";\n}\n');
    writeMain('');
    run.child.kill('SIGHUP');
    await expect.poll(() => body(port), { timeout: 20_000, interval: 100 }).toBe('two');
    expect(withMsg(run, 'configuration reloaded')).toHaveLength(1);
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration unchanged, nothing to reload').length, { timeout: 20_000 }).toBe(1);

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  }, 60_000);

  test.skipIf(!fs.existsSync('/proc/thread-self/stat'))('the load thread runs at the lowest priority; the serving thread keeps the normal one', async () => {
    // On a proxy given one core, the load must not take the serving thread's turns (load-thread.ts).
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `error_log stderr info;\npid off;\nhttp {\n  server { listen 127.0.0.1:${port}; return 200 "one"; }\n}\n`);
    const run = startCli(['-c', conf, '-g', 'watch off;']);
    await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 20_000 }).toBe(1);
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration unchanged, nothing to reload').length, { timeout: 20_000 }).toBe(1);
    // nice is field 19 of /proc/PID/task/TID/stat (after the parenthesised name); the thread that
    // loaded a small config stays idle, kept for the next reload.
    const nice = (tid: string): number => {
      const stat = fs.readFileSync(`/proc/${run.child.pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const niceness = fs.readdirSync(`/proc/${run.child.pid}/task`).map(nice);
    expect(nice(String(run.child.pid))).toBe(0);
    expect(niceness.filter((n) => n === 19)).toHaveLength(1);
    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  });
});

