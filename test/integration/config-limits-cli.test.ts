/**
 * Pathological configs through the real command line: `-t` exits 1 with a positioned message and
 * no stack trace, and a running proxy refuses them on reload and keeps serving.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freePort, logRecords, runCli, startCli, tempDir } from '../helpers/cli.js';
import { randomText } from '../helpers/random-text.js';

const NESTED = `http { server { listen 127.0.0.1:0; ${'location / { '.repeat(5000)}${'} '.repeat(5000)}} }\n`;

/** A 50 MB file of comment lines: valid syntax, but past the size limit. */
function writeHuge(file: string): void {
  const chunk = `# ${'x'.repeat(1021)}\n`.repeat(1024);
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < 50; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', (e) => resolve(e.message));
  });
}

describe('pathological configs', () => {
  test('-t: 5,000 nested blocks, a 50 MB file and random bytes each exit 1 with a positioned error, no stack trace', async () => {
    const dir = tempDir();
    const cases: [string, (file: string) => void, RegExp][] = [
      ['nested.conf', (f) => fs.writeFileSync(f, NESTED), /\[emerg\] too deeply nested blocks \(the limit is 100 levels\) in .*nested\.conf:1:\d+\n/],
      ['huge.conf', writeHuge, /\[emerg\] configuration file ".*huge\.conf" is too large \(more than 16777216 bytes; the limit is 16 MiB\)\n/],
      ['random.conf', (f) => fs.writeFileSync(f, randomText(300_000), 'utf8'), /\[emerg\] too many errors, only the first 100 are shown in .*random\.conf:\d+:\d+\n/],
    ];
    for (const [name, write, message] of cases) {
      const file = path.join(dir, name);
      write(file);
      const started = Date.now();
      const r = await runCli(['-t', '-c', file], { timeoutMs: 30_000 });
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toMatch(/test failed\n$/);
      expect(r.stderr, name).not.toMatch(/\n\s+at /);
      expect(r.stderr, name).not.toMatch(/RangeError|Maximum call stack/);
      expect(r.stderr.length, name).toBeLessThan(200_000);
      expect(Date.now() - started, name).toBeLessThan(20_000);
    }
  }, 90_000);

  test('a running proxy refuses each on reload, logs why and keeps serving', async () => {
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'main.conf');
    // watch off: SIGHUP drives these reloads. With the watcher on, a slow 50 MB write seen
    // half-way (comment lines only: a valid, empty config) could be applied and close the port.
    const good = `error_log stderr info;\npid off;\nwatch off;\nhttp { server { listen 127.0.0.1:${port}; location / { return 200 "alive"; } } }\n`;
    fs.writeFileSync(conf, good);
    const run = startCli(['-c', conf]);
    const failures = () => logRecords(run).filter((r) => r.msg === 'reload failed, keeping the running configuration').length;
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started'), { timeout: 20_000 }).toBe(true);
    expect(await get(port)).toBe('200 alive');

    const bad: [(f: string) => void, string][] = [
      [(f) => fs.writeFileSync(f, NESTED), 'too deeply nested blocks (the limit is 100 levels)'],
      [(f) => fs.writeFileSync(f, randomText(300_000), 'utf8'), 'too many errors, only the first 100 are shown'],
      [writeHuge, 'is too large'],
    ];
    for (const [i, [write, why]] of bad.entries()) {
      write(conf);
      run.child.kill('SIGHUP');
      await expect.poll(failures, { timeout: 30_000 }).toBeGreaterThanOrEqual(i + 1);
      expect(logRecords(run).some((r) => typeof r.msg === 'string' && r.msg.includes(why))).toBe(true);
      expect(run.child.exitCode).toBeNull();
      expect(await get(port)).toBe('200 alive');
    }
    expect(run.output()).not.toMatch(/Maximum call stack/);
  }, 120_000);
});
