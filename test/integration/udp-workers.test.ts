/**
 * `listen ... udp` with worker processes, through the real command line: the workers read the
 * one datagram socket the primary bound (Node cluster's shared dgram handle; nginx's workers
 * share one UDP socket too without reuseport), every datagram is answered by a worker, and a
 * reload (SIGHUP) keeps the socket: no datagram goes unanswered across it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startCli, tempDir, freePort, logRecords } from '../helpers/cli.js';
import { udpClient } from './udp-helpers.js';

describe('udp with worker processes', () => {
  test('two workers answer on one UDP port, and keep answering across a reload', async () => {
    const dir = tempDir();
    const port = await freePort();
    const conf = (text: string): string =>
      `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nstream { server { listen 127.0.0.1:${port} udp; return "${text} $pid"; } }\n`;
    fs.writeFileSync(path.join(dir, 'main.conf'), conf('one'));
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await expect.poll(() => logRecords(run).filter((r) => r.msg === 'tsproxy started').length, { timeout: 30_000 }).toBe(1);

    const ask = async (): Promise<string> => {
      const c = await udpClient(port);
      // a datagram may be lost: resend until answered
      await expect.poll(() => {
        if (c.received.length === 0) c.send('q');
        return c.received.length;
      }, { timeout: 5_000, interval: 100 }).toBeGreaterThan(0);
      return c.received[0]!;
    };
    const answers = await Promise.all(Array.from({ length: 10 }, ask));
    const pids = new Set(answers.map((a) => a.split(' ')[1]));
    for (const a of answers) expect(a).toMatch(/^one \d+$/);
    expect(pids.has(String(run.child.pid))).toBe(false);

    fs.writeFileSync(path.join(dir, 'main.conf'), conf('two'));
    run.child.kill('SIGHUP');
    await expect.poll(() => logRecords(run).filter((r) => r.msg === 'configuration reloaded').length, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await ask()).split(' ')[0], { timeout: 10_000 }).toBe('two');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
