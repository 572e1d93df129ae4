/**
 * worker_processes > 1 through the real command line: the primary forks workers that share the
 * listening sockets, replaces crashed ones, reloads them on SIGHUP and runs the health checks once.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startCli, tempDir, freePort, logRecords, type RunningCli } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backend.js';

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

/** One request on a new connection; "status body" or the error message. */
function get(port: number, urlPath = '/'): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
  });
}

async function started(run: RunningCli): Promise<void> {
  await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 30_000 }).toBe(1);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids seen over many new connections until `want` distinct ones answered. */
async function pidsSeen(port: number, want: number, seen = new Set<string>(), urlPath = '/'): Promise<Set<string>> {
  await expect
    .poll(
      async () => {
        const batch = await Promise.all(Array.from({ length: 20 }, () => get(port, urlPath)));
        for (const r of batch) if (r.startsWith('200 ')) seen.add(r.slice(4));
        return seen.size;
      },
      { timeout: 15_000, interval: 10 },
    )
    .toBeGreaterThanOrEqual(want);
  return seen;
}

describe('worker_processes', () => {
  test('two workers share one ephemeral port, both answer; a SIGKILLed worker is replaced and logged', async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'main.conf'),
      `error_log stderr info;\npid ${dir}/tsproxy.pid;\nworker_processes 2;\nhttp { server { listen 127.0.0.1:0; location / { return 200 "$pid"; } } }\n`,
    );
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await started(run);
    const listening = withMsg(run, 'listening');
    expect(listening).toHaveLength(1);
    const port = Number(String(listening[0]!.address).split(':')[1]);
    expect(port).toBeGreaterThan(0);
    const primaryPid = Number(fs.readFileSync(path.join(dir, 'tsproxy.pid'), 'utf8'));
    expect(primaryPid).toBe(run.child.pid);

    const pids = [...(await pidsSeen(port, 2))].map(Number);
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(primaryPid);

    const victim = pids[0]!;
    process.kill(victim, 'SIGKILL');
    await expect.poll(() => withMsg(run, `worker process ${victim} exited on signal 9`).length, { timeout: 10_000 }).toBe(1);
    // requests keep being answered while the replacement starts, never by the dead worker
    const during = await get(port);
    expect(during).toMatch(/^200 \d+$/);
    expect(during).not.toBe(`200 ${victim}`);
    const after = await pidsSeen(port, 2);
    expect(after.has(String(victim))).toBe(false);
    expect([...after].filter((p) => !pids.includes(Number(p)))).toHaveLength(1);

    // USR1 reaches the workers as a message; the signal's default action would have killed them
    run.child.kill('SIGUSR1');
    await expect.poll(() => withMsg(run, 'log files reopened').length, { timeout: 10_000 }).toBe(1);
    for (const p of after) expect(alive(Number(p))).toBe(true);

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
    for (const p of after) expect(alive(Number(p))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'tsproxy.pid'))).toBe(false);
  });

  test('SIGHUP reloads every worker while a request loop sees no failure', async () => {
    const dir = tempDir();
    const port = await freePort();
    const conf = (text: string) =>
      `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "${text}"; } } }\n`;
    fs.writeFileSync(path.join(dir, 'main.conf'), conf('one'));
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await started(run);
    expect(await get(port)).toBe('200 one');

    const failures: string[] = [];
    const answers = new Set<string>();
    let looping = true;
    const loop = (async () => {
      while (looping) {
        const batch = await Promise.all(Array.from({ length: 4 }, () => get(port)));
        for (const r of batch) {
          answers.add(r);
          if (r !== '200 one' && r !== '200 two') failures.push(r);
        }
      }
    })();
    onTestFinished(() => void (looping = false));
    // a broken config first: logged, nothing changes
    fs.writeFileSync(path.join(dir, 'main.conf'), `${conf('two')}bogus;\n`);
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'reload failed, keeping the running configuration').length, { timeout: 10_000 }).toBe(1);
    expect(await get(port)).toBe('200 one');

    fs.writeFileSync(path.join(dir, 'main.conf'), conf('two'));
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration reloaded').length, { timeout: 10_000 }).toBe(1);
    // every worker now answers "two" on new connections
    await expect
      .poll(async () => new Set(await Promise.all(Array.from({ length: 20 }, () => get(port)))), { timeout: 10_000 })
      .toEqual(new Set(['200 two']));
    looping = false;
    await loop;
    expect(failures).toEqual([]);
    expect(answers).toContain('200 one');
    expect(answers).toContain('200 two');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  test('active health checks run once per peer in the primary and their verdicts reach the workers', async () => {
    const dir = tempDir();
    // A raw TCP backend: it counts connections; a check connects and closes, a request gets an answer.
    let connections = 0;
    const backend = net.createServer((s) => {
      connections++;
      s.on('error', () => undefined);
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nbackend'));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    onTestFinished(() => void backend.close());
    const bport = (backend.address() as net.AddressInfo).port;
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'main.conf'),
      `error_log stderr info;\npid off;\nworker_processes 2;\nhttp {\n upstream app { server 127.0.0.1:${bport}; check interval=200 rise=1 fall=1 timeout=1000 default_down=true type=tcp; }\n` +
        ` server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; } }\n}\n`,
    );
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await started(run);
    // default_down: only a check brings the peer up; workers run no checks, so a 200 from both
    // workers means the primary's verdict was sent to them
    await expect.poll(() => get(port), { timeout: 10_000 }).toBe('200 backend');
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(port)));
    expect(new Set(answers)).toEqual(new Set(['200 backend']));

    // Count check connections only (no traffic) over 2 s: ~10 with one checker, ~30 with three.
    const before = connections;
    await new Promise((r) => setTimeout(r, 2_000));
    const checks = connections - before;
    expect(checks).toBeGreaterThanOrEqual(3);
    expect(checks).toBeLessThanOrEqual(14);

    // the peer going down is also seen by the workers: 502 once the check fails
    await new Promise<void>((r) => backend.close(() => r()));
    await expect.poll(async () => (await get(port)).slice(0, 3), { timeout: 10_000 }).toBe('502');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  // A real per-worker failure: with its open-files limit at 3 (prlimit, util-linux), one worker
  // cannot read /etc/hosts, so resolving `localhost` in the new config fails there and nowhere else.
  test.skipIf(spawnSync('prlimit', ['--version']).status !== 0)('a reload one worker cannot apply is applied by none, and the primary keeps its health checks', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const dir = tempDir();
    const port = await freePort();
    const conf = (version: string, extra: string) =>
      `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nhttp {\n` +
      ` upstream app { server 127.0.0.1:${a.port}; ${version === 'v2' ? 'check interval=60000 rise=2 fall=5 timeout=1000 default_down=true port=1;' : ''} }\n${extra}` +
      ` server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; } location /v { return 200 "$pid ${version}"; }` +
      `${extra === '' ? '' : ' location /dns { proxy_pass http://dns; }'} }\n}\n`;
    const v2 = conf('v2', ` upstream dns { server localhost:${b.port}; }\n`);
    fs.writeFileSync(path.join(dir, 'main.conf'), conf('v1', ''));
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await started(run);
    const workers = [...(await pidsSeen(port, 2, new Set(), '/v'))].map((r) => Number(r.split(' ')[0]));
    expect(await get(port)).toBe('200 A');

    const limit = spawnSync('prlimit', ['--pid', String(workers[0]), '--nofile', '--output', 'SOFT,HARD', '--noheadings']).stdout.toString().trim().split(/\s+/);
    expect(spawnSync('prlimit', ['--pid', String(workers[0]), '--nofile=3:' + limit[1]]).status).toBe(0);
    onTestFinished(() => void spawnSync('prlimit', ['--pid', String(workers[0]), `--nofile=${limit[0]}:${limit[1]}`]));
    fs.writeFileSync(path.join(dir, 'main.conf'), v2);
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'reload failed, keeping the running configuration').length, { timeout: 10_000 }).toBe(1);
    expect(JSON.stringify(withMsg(run, 'reload failed, keeping the running configuration')[0])).toContain('host not found in upstream');
    expect(spawnSync('prlimit', ['--pid', String(workers[0]), `--nofile=${limit[0]}:${limit[1]}`]).status).toBe(0);

    // Both workers still serve v1, and the primary's checker for v2 (its peer down by default_down)
    // never reached them: the peer both configs share still answers.
    const answers = await pidsSeen(port, 2, new Set(), '/v');
    expect([...answers].map((r) => r.split(' ')[1])).toEqual(['v1', 'v1']);
    for (let i = 0; i < 10; i++) expect(await get(port)).toBe('200 A');

    // The same config applies once every worker can: the check now keeps the peer down.
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration reloaded').length, { timeout: 10_000 }).toBe(1);
    await expect
      .poll(async () => new Set((await Promise.all(Array.from({ length: 20 }, () => get(port, '/v')))).map((r) => r.split(' ')[2])), { timeout: 10_000 })
      .toEqual(new Set(['v2']));
    expect(await get(port, '/dns')).toBe('200 B');
    expect((await get(port)).slice(0, 3)).toBe('502');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 60_000);
});
