/**
 * worker_processes > 1: the primary sends each worker the Config encoded in pieces, as chunks of
 * raw bytes (runtime/config-transfer.ts), and the worker decodes it in slices. A config of more
 * than one chunk starts every worker and reloads every worker.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { freePort, logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/load.js';
import { encodeInPieces } from '../../src/config/pieces.js';

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

function get(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', (e) => resolve(`error ${e.message}`));
  });
}

/** `servers` name-based servers, each answering its name, the generation and the worker's pid. */
function configText(port: number, servers: number, generation: number): string {
  const blocks: string[] = [];
  for (let i = 0; i < servers; i++) {
    blocks.push(`  server { listen 127.0.0.1:${port}; server_name s${i}.test www.s${i}.test; location / { return 200 "s${i} g${generation} $pid"; } location /api/ { proxy_pass http://127.0.0.1:9; } }\n`);
  }
  return `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nhttp {\n  access_log off;\n${blocks.join('')}}\n`;
}

describe('worker processes take the config in chunks', () => {
  test('a config of more than one chunk (1 MiB) starts both workers and reloads both', async () => {
    const dir = tempDir();
    const port = await freePort();
    const servers = 1500;
    const text = configText(port, servers, 1);
    // The point of the test: the encoded config is longer than one chunk.
    expect(encodeInPieces(loadConfig(text, 'big.conf').config!).length).toBeGreaterThan(1024 * 1024);
    const conf = path.join(dir, 'main.conf');
    fs.writeFileSync(conf, text);
    const run = startCli(['-c', conf]);
    await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 30_000 }).toBe(1);

    const answers = async (generation: number): Promise<Set<string>> => {
      const seen = new Set<string>();
      await expect.poll(async () => {
        const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => get(port, `s${i % 2 === 0 ? 0 : servers - 1}.test`)));
        for (const b of batch) if (b.includes(` g${generation} `)) seen.add(b.split(' ')[2]!);
        return seen.size;
      }, { timeout: 15_000, interval: 10 }).toBe(2);
      return seen;
    };
    const pids = await answers(1);
    fs.writeFileSync(conf, configText(port, servers, 2));
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration reloaded').length, { timeout: 30_000 }).toBe(1);
    // both workers (the same two processes) answer the new generation, and only it
    expect(await answers(2)).toEqual(pids);
    const after = await Promise.all(Array.from({ length: 20 }, () => get(port, `s${servers - 1}.test`)));
    expect(after.every((b) => b.startsWith(`s${servers - 1} g2 `))).toBe(true);
    expect(withMsg(run, 'configuration reloaded')[0]!.servers).toBe('{"added":0,"changed":1500,"removed":0}');

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  }, 60_000);
});
