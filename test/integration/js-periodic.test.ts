/**
 * js_preload_object and r.rawVariables (what nginx 1.22 + njs 0.7.9 answered for the same
 * config and script, checked with ask-nginx; V8 words its TypeErrors differently, so only the
 * class is compared), and js_periodic (njs 0.8's: not in the installed njs, so its documented
 * behaviour: default worker 0 only, a mask whose rightmost digit is worker 0).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { configFrom } from '../helpers/proxy.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/more.js');
const DATA = '{"a": 1, "list": [1, 2, 3], "nested": {"b": "x"}}';

function config(periodic = '') {
  return `http {
    js_import DIR/more.js;
    js_preload_object cfg from DIR/data.json;
    js_preload_object DIR/data.json;
    js_shared_dict_zone zone=runs:32k type=number;
    server {
      listen 127.0.0.1:0;
      location /show { js_content more.show; }
      location /raw { js_content more.raw; }
      location /count { js_content more.count; }
      location /tasks { ${periodic} }
    }
  }`;
}

function moreProxy(text = config()) {
  return startAccessProxy(text, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'more.js'));
    fs.writeFileSync(path.join(dir, 'data.json'), DATA);
  });
}

describe('js_preload_object and r.rawVariables (nginx + njs answers)', () => {
  test('the JSON is a frozen global, by the given name or the file\'s', async () => {
    const p = await moreProxy();
    expect((await request(p.port, '/show')).body).toBe('1 3 x object {"a":1,"list":[1,2,3],"nested":{"b":"x"}} | TypeError | TypeError | true');
  });

  test('r.rawVariables gives Buffers', async () => {
    const p = await moreProxy();
    expect((await request(p.port, '/raw', { headers: { host: 'a' } })).body).toBe('object true a undefined');
  });

  test('-t: a name starting with a digit (nginx\'s words), a JSON file that does not parse (its position)', async () => {
    const dir = tempDir();
    fs.copyFileSync(FIXTURE, path.join(dir, 'more.js'));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{\n  "a": 1,\n  bad\n}');
    const conf = (line: string) => {
      const file = path.join(dir, 'main.conf');
      fs.writeFileSync(file, `http {\n  js_import ${dir}/more.js;\n  ${line}\n  server { listen 127.0.0.1:0; }\n}\n`);
      return runCli(['-t', '-c', file]);
    };
    const digit = await conf(`js_preload_object 1x from ${dir}/bad.json;`);
    expect(digit.code).toBe(1);
    expect(digit.stderr).toContain('cannot start with "1" in global name "1x"');
    const bad = await conf(`js_preload_object cfg from ${dir}/bad.json;`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`bad.json:3:3`);
  });
});

describe('js_periodic', () => {
  test('runs every interval in worker 0; a mask naming only worker 1 never runs here; async runs do not overlap; a throw is logged', async () => {
    const p = await moreProxy(config(`js_periodic more.tick interval=50ms; js_periodic more.never interval=50ms worker_affinity=10;
      js_periodic more.slow interval=50ms; js_periodic more.boom interval=100ms jitter=10ms;`));
    await expect.poll(async () => Number((await request(p.port, '/count')).body.split(' ')[0]), { timeout: 5000 }).toBeGreaterThanOrEqual(5);
    const [ticks, never, slowRuns] = (await request(p.port, '/count')).body.split(' ').map(Number);
    expect(never).toBe(0);
    // a 250ms run every 50ms: at most one run per 250ms
    expect(slowRuns!).toBeLessThanOrEqual(Math.ceil(ticks! / 5) + 1);
    expect(slowRuns!).toBeGreaterThanOrEqual(1);
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js exception: Error: periodic kaput');
  });

  test('a reload stops the old config\'s tasks', async () => {
    const p = await moreProxy(config('js_periodic more.tick interval=30ms;'));
    await expect.poll(async () => Number((await request(p.port, '/count')).body.split(' ')[0]), { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    await p.runtime.reload(configFrom(config().replaceAll('DIR', p.dir)));
    const before = Number((await request(p.port, '/count')).body.split(' ')[0]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Number((await request(p.port, '/count')).body.split(' ')[0])).toBe(before);
  });
});
