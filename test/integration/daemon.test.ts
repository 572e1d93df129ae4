/**
 * `daemon on` and `user` through the real command line.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test, onTestFinished } from 'vitest';
import { logRecords, runCli, startCli, tempDir, freePort } from '../helpers/cli.js';

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The real uid of a process (first field of "Uid:" in /proc/PID/status). */
function uidOf(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

function passwdUid(user: string): number {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!;
  return Number(line.split(':')[2]);
}

describe('daemon on', () => {
  test('the CLI returns 0 once the detached process wrote its pid file; it serves; -s stop stops it', async () => {
    const dir = tempDir();
    const port = await freePort();
    const pidFile = path.join(dir, 'tsproxy.pid');
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `daemon on;\nerror_log ${dir}/error.log info;\npid ${pidFile};\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "$pid"; } } }\n`);
    const res = await runCli(['-c', conf], { timeoutMs: 30_000 });
    expect(res.code).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    onTestFinished(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    expect(alive(pid)).toBe(true);
    expect(await get(port)).toBe(`200 ${pid}`);
    // detached: a session of its own
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[3])).toBe(pid); // session id

    expect((await runCli(['-c', conf, '-s', 'stop'])).code).toBe(0);
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  test('a daemon that cannot start makes the CLI exit 1 with the reason', async () => {
    const dir = tempDir();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    onTestFinished(() => void blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `daemon on;\nerror_log ${dir}/error.log info;\npid ${dir}/tsproxy.pid;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "x"; } } }\n`);
    const res = await runCli(['-c', conf], { timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`bind() to 127.0.0.1:${port} failed (98: Address already in use)`);
  });
});

describe('user', () => {
  const root = process.getuid?.() === 0;
  for (const workers of [1, 2]) {
    test.skipIf(!root)(`user nobody as root (worker_processes ${workers}): the serving process runs as nobody and serves`, async () => {
      const dir = tempDir();
      const port = await freePort();
      const conf = path.join(dir, 'main.conf');
      fs.writeFileSync(
        conf,
        `user nobody;\nworker_processes ${workers};\nerror_log stderr info;\npid ${dir}/tsproxy.pid;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "$pid"; } } }\n`,
      );
      const run = startCli(['-c', conf]);
      await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started'), { timeout: 30_000 }).toBe(true);
      const answer = await get(port);
      expect(answer).toMatch(/^200 \d+$/);
      const pid = Number(answer.slice(4));
      await expect.poll(() => uidOf(pid), { timeout: 5_000 }).toBe(passwdUid('nobody'));
      // the pid file was written (as root) before privileges were dropped
      expect(fs.existsSync(path.join(dir, 'tsproxy.pid'))).toBe(true);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    });
  }

  test.skipIf(root)('user without root: the nginx warning, and it keeps serving', async () => {
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, `user nobody;\nerror_log stderr info;\npid off;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "ok"; } } }\n`);
    const run = startCli(['-c', conf]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started'), { timeout: 30_000 }).toBe(true);
    expect(logRecords(run).map((r) => r.msg)).toContain('the "user" directive makes sense only if the master process runs with super-user privileges, ignored');
    expect(await get(port)).toBe('200 ok');
  });
});
