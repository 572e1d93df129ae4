/**
 * js_shared_dict_zone and ngx.shared through real sockets. njs 0.7.9 (the nginx + njs installed
 * for reference) has no shared dicts (njs 0.8.0 added them): these follow njs's documentation
 * (SharedDict: get/set/add/replace/incr/delete/pop/has/keys/items/size/freeSpace/clear; set
 * returns the dict; incr only in type=number zones), and the exact error texts are tsproxy's.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { configFrom } from '../helpers/proxy.js';
import { logRecords, startCli, tempDir } from '../helpers/cli.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/dict.js');

const CONFIG = `http {
  js_import DIR/dict.js;
  js_shared_dict_zone zone=kv:64k;
  js_shared_dict_zone zone=counts:32k type=number;
  js_shared_dict_zone zone=short:32k timeout=300ms;
  js_shared_dict_zone zone=tiny:8k;
  js_shared_dict_zone zone=tinyevict:8k evict;
  server {
    listen 127.0.0.1:0;
    location /api { js_content dict.api; }
    location /count { js_content dict.count; }
    location /numbers { js_content dict.numbers; }
    location /put { js_content dict.put; }
    location /read { js_content dict.read; }
  }
}`;

function dictProxy(config = CONFIG) {
  return startAccessProxy(config, (dir) => fs.copyFileSync(FIXTURE, path.join(dir, 'dict.js')));
}

describe('ngx.shared (one process)', () => {
  test('get/set/has/add/replace/keys/items/size/delete/pop/clear; a string zone refuses numbers', async () => {
    const p = await dictProxy();
    expect((await request(p.port, '/api')).body).toBe([
      'true', '1', 'true', 'false', '',
      'false', 'true', 'true', 'false', '11',
      // write order (replace moved "a" last)
      'b,a', '[["b","2"],["a","11"]]', '2',
      'true', 'false', '11', '0',
      'TypeError: string value is expected',
      'TypeError: shared dict is not a number dict',
      'kv', 'string', String(64 * 1024), '0',
    ].join('|'));
  });

  test('incr with an initial value, and a number zone refuses strings', async () => {
    const p = await dictProxy();
    expect((await request(p.port, '/numbers')).body).toBe('12|11|11|TypeError: number value is expected');
    const a = await request(p.port, '/count');
    const b = await request(p.port, '/count');
    expect([a.body.split(' ')[0], b.body.split(' ')[0]]).toEqual(['1', '2']);
  });

  test('timeout=: an entry is gone once it expires', async () => {
    const p = await dictProxy();
    await request(p.port, '/put?zone=short&key=k&value=here');
    expect((await request(p.port, '/read?zone=short&key=k')).body).toBe('here|k');
    await expect.poll(() => request(p.port, '/read?zone=short&key=k').then((r) => r.body), { timeout: 3000 }).toBe('undefined|');
  });

  test('a full zone throws SharedMemoryError; with evict the oldest entries make room', async () => {
    const p = await dictProxy();
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) sizes.push((await request(p.port, `/put?zone=tiny&key=k${i}&size=3000`)).status);
    expect(sizes).toEqual([200, 200, 507]);
    expect((await request(p.port, '/put?zone=tiny&key=k9&size=3000')).body).toBe('SharedMemoryError: could not allocate memory in shared dict zone "tiny"');
    for (let i = 0; i < 3; i++) expect((await request(p.port, `/put?zone=tinyevict&key=k${i}&size=3000`)).status).toBe(200);
    expect((await request(p.port, '/read?zone=tinyevict&key=k0')).body).toBe('undefined|k1,k2');
  });

  test('entries survive a reload', async () => {
    const p = await dictProxy();
    await request(p.port, '/put?zone=kv&key=kept&value=yes');
    await p.runtime.reload(configFrom(CONFIG.replaceAll('DIR', p.dir).replace('zone=kv:64k', 'zone=kv:128k')));
    expect((await request(p.port, '/read?zone=kv&key=kept')).body).toBe('yes|kept');
  });
});

describe('ngx.shared across worker processes', () => {
  function get(port: number, urlPath: string): Promise<string> {
    return new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
  }

  test('worker_processes 2: one counter, whichever worker answers', async () => {
    const dir = tempDir();
    fs.copyFileSync(FIXTURE, path.join(dir, 'dict.js'));
    const file = path.join(dir, 'main.conf');
    fs.writeFileSync(file, `worker_processes 2;\n${CONFIG.replaceAll('DIR', dir)}`);
    const run = startCli(['-c', file]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
    expect(run.child.exitCode, run.output()).toBe(null);
    const port = Number(String(logRecords(run).find((r) => r.msg === 'listening')!.address).split(':')[1]);
    const seen: string[] = [];
    while (seen.length < 10 || (new Set(seen.map((s) => s.split(' ')[1])).size < 2 && seen.length < 200)) seen.push(await get(port, '/count'));
    expect(new Set(seen.map((s) => s.split(' ')[1])).size).toBe(2);
    expect(seen.map((s) => Number(s.split(' ')[0]))).toEqual(seen.map((_, i) => i + 1));
    // a write in one worker is read in the other
    await get(port, '/put?zone=kv&key=w&value=seen');
    const reads = new Set<string>();
    for (let i = 0; i < 20; i++) reads.add(await get(port, '/read?zone=kv&key=w'));
    expect([...reads]).toEqual(['seen|w']);
    // a missing key reads as undefined in a worker too (its answer crosses the channel without a value)
    expect(await get(port, '/read?zone=kv&key=missing')).toBe('undefined|w');
  }, 60_000);
});

describe('js_shared_dict_zone state=file', () => {
  test('the entries outlive the process: written to the file, read back at the next start', async () => {
    const dir = tempDir();
    fs.copyFileSync(FIXTURE, path.join(dir, 'dict.js'));
    const file = path.join(dir, 'main.conf');
    fs.writeFileSync(file, `worker_processes 2;\n${CONFIG.replaceAll('DIR', dir).replace('zone=kv:64k;', 'zone=kv:64k state=kv.json;')}`);
    const start = async () => {
      const run = startCli(['-c', file]);
      await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
      expect(run.child.exitCode, run.output()).toBe(null);
      return { run, port: Number(String(logRecords(run).find((r) => r.msg === 'listening')!.address).split(':')[1]) };
    };
    const first = await start();
    const get = (port: number, p: string) => request(port, p).then((r) => r.body);
    expect(await get(first.port, '/put?zone=kv&key=kept&value=across')).toMatch(/^ok 1 /);
    // njs's layout, written shortly after the change
    await expect.poll(() => fs.existsSync(path.join(dir, 'kv.json')) ? JSON.parse(fs.readFileSync(path.join(dir, 'kv.json'), 'utf8')) as unknown : null)
      .toEqual({ kept: { value: 'across' } });
    first.run.child.kill('SIGQUIT');
    await first.run.exited;
    const second = await start();
    expect(await get(second.port, '/read?zone=kv&key=kept')).toBe('across|kept');
  }, 90_000);
});
