/** The README's Scripting examples run as shown (the njs script, the TypeScript handler). */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { rawExchange, startHttpBackend, startRawBackend } from '../helpers/backend.js';
import { ROOT } from '../helpers/cli.js';

function readmeBlocks(): { nginx: string; js: string; ts: string } {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Scripting'), readme.indexOf('## Command line'));
  const block = (lang: string) => new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(section)![1]!;
  return { nginx: block('nginx'), js: block('js'), ts: block('ts') };
}

test('the README njs example picks a backend per Host and answers /whoami', async () => {
  const { nginx, js, ts } = readmeBlocks();
  const blue = await startHttpBackend('blue');
  const green = await startHttpBackend('green');
  const config = nginx
    .replace('js_import route.js;', 'js_import DIR/route.js;\n    js_import app from DIR/app.ts;')
    .replace('127.0.0.1:9001', `127.0.0.1:${blue.port}`)
    .replace('127.0.0.1:9002', `127.0.0.1:${green.port}`)
    .replace('127.0.0.1:8080', '127.0.0.1:0')
    .replace('location /whoami', 'location /hello { js_content app.hello; }\n        location /whoami');
  const p = await startAccessProxy(config, (dir) => {
    fs.writeFileSync(path.join(dir, 'route.js'), js);
    fs.writeFileSync(path.join(dir, 'app.ts'), ts);
  });
  await request(p.port, '/a', { headers: { host: 'shop.example' } });
  await request(p.port, '/b', { headers: { host: 'other.example' } });
  expect([blue.requests, green.requests]).toEqual([1, 1]);
  const me = await request(p.port, '/whoami', { headers: { host: 'shop.example' } });
  expect(me.body).toBe('127.0.0.1 asked /whoami of green\n');
  expect((await request(p.port, '/hello?who=readme')).body).toBe('hello readme\n');
});

test('the README\'s second example: a shared counter stamped on proxied answers, a page that fetches', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Scripting'), readme.indexOf('## Command line'));
  const blocks = (lang: string) => [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
  const nginx = blocks('nginx')[1]!;
  const js = blocks('js')[1]!;
  const origin = await startHttpBackend('origin');
  const quota = await startHttpBackend('quota', (_req, res) => res.end('{"limit": 100}'));
  const config = nginx
    .replace('js_import app.js;', 'js_import DIR/app.js;')
    .replace('127.0.0.1:9001', `127.0.0.1:${origin.port}`)
    .replace('127.0.0.1:8080', '127.0.0.1:0');
  const p = await startAccessProxy(config, (dir) => fs.writeFileSync(path.join(dir, 'app.js'), js.replace('127.0.0.1:9002', `127.0.0.1:${quota.port}`)));
  expect((await request(p.port, '/a')).headers['x-hit']).toBe('1');
  expect((await request(p.port, '/b')).headers['x-hit']).toBe('2');
  expect((await request(p.port, '/hits')).body).toBe('2 of 100\n');
});

test('the README\'s stream example: js_access lets 127.0.0.1 in, the first line picks the backend', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Scripting'), readme.indexOf('## Command line'));
  const blocks = (lang: string) => [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
  const nginx = blocks('nginx')[2]!;
  const js = blocks('js')[2]!;
  const answering = async (text: string): Promise<number> => (await startRawBackend((socket) => socket.end(text))).port;
  const main = await answering('main\n');
  const reports = await answering('reports\n');
  const p = await startAccessProxy(nginx.replace('js_import router.js;', 'js_import DIR/router.js;').replace('127.0.0.1:7000', '127.0.0.1:0'),
    (dir) => fs.writeFileSync(path.join(dir, 'router.js'), js.replace('127.0.0.1:7002', `127.0.0.1:${reports}`).replace('127.0.0.1:7001', `127.0.0.1:${main}`)));
  expect(await rawExchange(p.port, 'reports\nq1')).toBe('reports\n');
  expect(await rawExchange(p.port, 'other\n')).toBe('main\n');
});
