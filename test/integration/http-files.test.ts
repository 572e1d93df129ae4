/**
 * Static-file settings as nginx 1.22 answers them (each expectation checked with ask-nginx):
 * types / default_type / include mime.types, etag, expires, if_modified_since, alias in prefix
 * and regex locations, autoindex (html and json), and the error-log lines of missing files and
 * forbidden directories.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy, startProxyFromFile, type TestProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';
import { freePort, logRecords, startCli, tempDir } from '../helpers/cli.js';

const OLD = new Date('2024-01-02T03:04:05Z');

/** A proxy on a config file (include needs one). */
function startFromFile(text: string): Promise<TestProxy> {
  return startProxyFromFile(text, tempDir());
}

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-files-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'a.txt'), 'hello\n');
  writeFileSync(path.join(root, 'page.html'), '<p>x</p>');
  writeFileSync(path.join(root, 'data.weird'), 'w');
  writeFileSync(path.join(root, 'noext'), 'n');
  utimesSync(path.join(root, 'a.txt'), OLD, OLD);
  return root;
}

describe('types and default_type', () => {
  it('a types block replaces the built-in table; default_type covers the rest', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { types { text/x-weird weird; text/html html; } default_type text/plain;
      server { listen 127.0.0.1:0; root ${root}; location /css/ { types { } default_type application/x-none; } } }`);
    expect((await request(proxy.url('/data.weird'))).headers['content-type']).toBe('text/x-weird');
    expect((await request(proxy.url('/page.html'))).headers['content-type']).toBe('text/html');
    // txt is not in this table: default_type.
    expect((await request(proxy.url('/a.txt'))).headers['content-type']).toBe('text/plain');
    expect((await request(proxy.url('/noext'))).headers['content-type']).toBe('text/plain');
  });

  it('an empty types block at a level gives default_type for everything there', async () => {
    const root = makeRoot();
    mkdirSync(path.join(root, 'raw'));
    writeFileSync(path.join(root, 'raw', 'x.html'), 'r');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /raw/ { types { } default_type application/x-raw; } } }`);
    expect((await request(proxy.url('/raw/x.html'))).headers['content-type']).toBe('application/x-raw');
    expect((await request(proxy.url('/page.html'))).headers['content-type']).toBe('text/html');
  });

  it.runIf(existsSync('/etc/nginx/mime.types'))("Debian's /etc/nginx/mime.types loads with include", async () => {
    const root = makeRoot();
    writeFileSync(path.join(root, 'x.woff2'), 'w');
    writeFileSync(path.join(root, 'x.svg'), 's');
    const proxy = await startFromFile(`http { include /etc/nginx/mime.types; default_type application/octet-stream;
      server { listen 127.0.0.1:0; root ${root}; } }`);
    expect((await request(proxy.url('/x.woff2'))).headers['content-type']).toBe('font/woff2');
    expect((await request(proxy.url('/x.svg'))).headers['content-type']).toBe('image/svg+xml');
    expect((await request(proxy.url('/data.weird'))).headers['content-type']).toBe('application/octet-stream');
  });

  it('include inside types reads a file of type lines', async () => {
    const root = makeRoot();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'my.types'), 'types {\n  application/x-w   weird;\n  text/plain txt noext;\n}\n');
    const proxy = await startFromFile(`http { include ${dir}/my.types; server { listen 127.0.0.1:0; root ${root}; } }`);
    expect((await request(proxy.url('/data.weird'))).headers['content-type']).toBe('application/x-w');
    expect((await request(proxy.url('/a.txt'))).headers['content-type']).toBe('text/plain');
  });
});

describe('etag, expires, if_modified_since', () => {
  it('ETag is nginx\'s "mtime-size" in hex; etag off sends none and ignores If-None-Match', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; location /off/ { etag off; alias ${root}/; } } }`);
    const on = await request(proxy.url('/a.txt'));
    // nginx: ETag: "65937d25-6" for a 6-byte file of 2024-01-02T03:04:05Z.
    expect(on.headers.etag).toBe('"65937d25-6"');
    const off = await request(proxy.url('/off/a.txt'));
    expect(off.headers.etag).toBeUndefined();
    expect((await request(proxy.url('/off/a.txt'), { headers: { 'if-none-match': '"65937d25-6"' } })).status).toBe(200);
    expect((await request(proxy.url('/a.txt'), { headers: { 'if-none-match': '"65937d25-6"' } })).status).toBe(304);
  });

  it('expires: time, negative, max, epoch, modified, off (nginx headers)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /h/ { expires 1h; alias ${root}/; }
      location /neg/ { expires -1; alias ${root}/; }
      location /max/ { expires max; alias ${root}/; }
      location /epoch/ { expires epoch; alias ${root}/; }
      location /mod/ { expires modified +1h; alias ${root}/; }
      location /off/ { expires off; alias ${root}/; } } }`);
    const before = Math.floor(Date.now() / 1000);
    const h = await request(proxy.url('/h/a.txt'));
    expect(h.headers['cache-control']).toBe('max-age=3600');
    const at = Date.parse(h.headers.expires!) / 1000;
    expect(at).toBeGreaterThanOrEqual(before + 3600);
    expect(at).toBeLessThanOrEqual(before + 3602);
    const neg = await request(proxy.url('/neg/a.txt'));
    expect(neg.headers['cache-control']).toBe('no-cache');
    expect(Date.parse(neg.headers.expires!) / 1000).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const max = await request(proxy.url('/max/a.txt'));
    expect([max.headers.expires, max.headers['cache-control']]).toEqual(['Thu, 31 Dec 2037 23:55:55 GMT', 'max-age=315360000']);
    const epoch = await request(proxy.url('/epoch/a.txt'));
    expect([epoch.headers.expires, epoch.headers['cache-control']]).toEqual(['Thu, 01 Jan 1970 00:00:01 GMT', 'no-cache']);
    // modified +1h of a file from 2024: in the past, so no-cache (nginx).
    const mod = await request(proxy.url('/mod/a.txt'));
    expect([mod.headers.expires, mod.headers['cache-control']]).toEqual(['Tue, 02 Jan 2024 04:04:05 GMT', 'no-cache']);
    const off = await request(proxy.url('/off/a.txt'));
    expect(off.headers.expires).toBeUndefined();
    expect(off.headers['cache-control']).toBeUndefined();
  });

  it('expires replaces an upstream\'s Expires and Cache-Control for 2xx/3xx, not for a 404; return gets it too', async () => {
    const backend = await startHttpBackend('b', (req, res) => {
      res.setHeader('Cache-Control', 'private');
      res.setHeader('Expires', 'x');
      res.statusCode = req.url === '/nf' ? 404 : 200;
      res.end('up');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /p/ { expires 1h; add_header X-A a; proxy_pass http://127.0.0.1:${backend.port}/; }
      location /r/ { expires epoch; return 200 "ret"; } } }`);
    // nginx 1.22: the 200 gets max-age=3600 and a new Expires, the 404 keeps "private".
    const ok = await request(proxy.url('/p/'));
    expect([ok.headers['cache-control'], ok.headers['x-a']]).toEqual(['max-age=3600', 'a']);
    expect(ok.headers.expires).not.toBe('x');
    expect(Date.parse(ok.headers.expires!)).toBeGreaterThan(Date.now() + 3_500_000);
    const nf = await request(proxy.url('/p/nf'));
    expect([nf.status, nf.headers['cache-control'], nf.headers.expires]).toEqual([404, 'private', 'x']);
    const ret = await request(proxy.url('/r/'));
    expect([ret.body, ret.headers.expires, ret.headers['cache-control']]).toEqual(['ret', 'Thu, 01 Jan 1970 00:00:01 GMT', 'no-cache']);
  });

  it('If-Match and If-Unmodified-Since: 412 as nginx', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; location /off/ { etag off; alias ${root}/; } } }`);
    const status = async (p: string, h: Record<string, string>): Promise<number> => (await request(proxy.url(p), { headers: h })).status;
    // nginx 1.22 on a file of 2024-01-02T03:04:05Z with ETag "65937d25-6".
    expect(await status('/a.txt', { 'if-match': '"65937d25-6"' })).toBe(200);
    expect(await status('/a.txt', { 'if-match': '"zzz"' })).toBe(412);
    expect(await status('/a.txt', { 'if-match': '*' })).toBe(200);
    expect(await status('/off/a.txt', { 'if-match': '*' })).toBe(412);
    expect(await status('/a.txt', { 'if-unmodified-since': 'Tue, 02 Jan 2024 03:04:05 GMT' })).toBe(200);
    expect(await status('/a.txt', { 'if-unmodified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' })).toBe(412);
    expect(await status('/a.txt', { 'if-unmodified-since': 'garbage' })).toBe(412);
  });

  it('if_modified_since exact, before and off', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /before/ { if_modified_since before; alias ${root}/; }
      location /off/ { if_modified_since off; alias ${root}/; } } }`);
    const exact = 'Tue, 02 Jan 2024 03:04:05 GMT';
    const later = 'Wed, 03 Jan 2024 00:00:00 GMT';
    expect((await request(proxy.url('/a.txt'), { headers: { 'if-modified-since': exact } })).status).toBe(304);
    expect((await request(proxy.url('/a.txt'), { headers: { 'if-modified-since': later } })).status).toBe(200);
    expect((await request(proxy.url('/before/a.txt'), { headers: { 'if-modified-since': later } })).status).toBe(304);
    expect((await request(proxy.url('/before/a.txt'), { headers: { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' } })).status).toBe(200);
    expect((await request(proxy.url('/off/a.txt'), { headers: { 'if-modified-since': exact } })).status).toBe(200);
    // Both validators present: 304 only when both agree (nginx's not-modified filter).
    expect((await request(proxy.url('/a.txt'), { headers: { 'if-modified-since': later, 'if-none-match': '"65937d25-6"' } })).status).toBe(200);
  });
});

describe('alias', () => {
  it('replaces a prefix location\'s path; in a regex location the alias with captures is the file', async () => {
    const root = makeRoot();
    const other = makeRoot();
    writeFileSync(path.join(other, 'x.css'), 'aliased');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /i/ { alias ${other}/; }
      location ~ ^/re/(.*)$ { alias ${other}/$1; } } }`);
    expect(await request(proxy.url('/i/x.css'))).toMatchObject({ status: 200, body: 'aliased' });
    expect((await request(proxy.url('/i/x.css'))).headers['content-type']).toBe('text/css');
    expect(await request(proxy.url('/re/x.css'))).toMatchObject({ status: 200, body: 'aliased' });
    expect((await request(proxy.url('/re/nothing.txt'))).status).toBe(404);
    expect(await request(proxy.url('/a.txt'))).toMatchObject({ status: 200, body: 'hello\n' });
  });

  it('$document_root and $request_filename (root, prefix alias, regex alias) as nginx', async () => {
    const root = makeRoot();
    const other = makeRoot();
    writeFileSync(path.join(other, 'x.css'), 'aliased');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}/;
      location /v/ { return 200 "dr=$document_root rf=$request_filename"; }
      location /al/ { alias ${other}/; if (-f $request_filename) { return 200 "dr=$document_root rf=$request_filename exists"; }
        return 200 "dr=$document_root rf=$request_filename"; }
      location ~ ^/re/(.*)$ { alias ${other}/$1; if ($uri) { return 200 "dr=$document_root rf=$request_filename"; } } } }`);
    // nginx 1.22: a root's trailing slash is dropped, an alias's kept; a regex alias is the file.
    expect((await request(proxy.url('/v/a.txt'))).body).toBe(`dr=${root} rf=${root}/v/a.txt`);
    expect((await request(proxy.url('/al/x.css'))).body).toBe(`dr=${other}/ rf=${other}/x.css exists`);
    expect((await request(proxy.url('/al/y'))).body).toBe(`dr=${other}/ rf=${other}/y`);
    expect((await request(proxy.url('/re/x.css'))).body).toBe(`dr=${other}/x.css rf=${other}/x.css`);
  });

  it('root and alias in one location is refused as nginx words it', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const r = loadConfig('http { server { location /x/ { root /a; alias /b; } } }', 'a.conf');
    expect(r.errors.map((e) => e.message)).toEqual(['"alias" directive is duplicate, "root" directive was specified earlier']);
  });
});

describe('autoindex', () => {
  function listingRoot(): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-ai-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const d = path.join(root, 'ai');
    mkdirSync(path.join(d, 'zdir'), { recursive: true });
    mkdirSync(path.join(d, 'adir'));
    writeFileSync(path.join(d, 'b.txt'), 'hi\n');
    writeFileSync(path.join(d, 'big.bin'), Buffer.alloc(123456));
    writeFileSync(path.join(d, 'a very long file name that goes beyond fifty characters wide.txt'), 'x\n');
    writeFileSync(path.join(d, 'q&<x>"y.txt'), 'q\n');
    writeFileSync(path.join(d, '.hidden'), '');
    for (const n of ['b.txt', 'big.bin', 'adir', 'zdir', 'a very long file name that goes beyond fifty characters wide.txt', 'q&<x>"y.txt']) utimesSync(path.join(d, n), OLD, OLD);
    return root;
  }

  // nginx 1.22's listing of the same directory (ask-nginx), times set to 2024-01-02 03:04:05Z.
  it('html: directories first, 50-column names, exact sizes (nginx layout)', async () => {
    const root = listingRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location /ai/ { root ${root}; autoindex on; }
      location /ak/ { alias ${root}/ai/; autoindex on; autoindex_exact_size off; } } }`);
    const res = await request(proxy.url('/ai/'));
    expect(res.headers['content-type']).toBe('text/html');
    expect(res.body).toBe([
      '<html>', '<head><title>Index of /ai/</title></head>', '<body>', '<h1>Index of /ai/</h1><hr><pre><a href="../">../</a>',
      '<a href="adir/">adir/</a>                                              02-Jan-2024 03:04                   -',
      '<a href="zdir/">zdir/</a>                                              02-Jan-2024 03:04                   -',
      '<a href="a%20very%20long%20file%20name%20that%20goes%20beyond%20fifty%20characters%20wide.txt">a very long file name that goes beyond fifty ch..&gt;</a> 02-Jan-2024 03:04                   2',
      '<a href="b.txt">b.txt</a>                                              02-Jan-2024 03:04                   3',
      '<a href="big.bin">big.bin</a>                                            02-Jan-2024 03:04              123456',
      '<a href="q%26%3Cx%3E%22y.txt">q&amp;&lt;x&gt;&quot;y.txt</a>                                        02-Jan-2024 03:04                   2',
      '</pre><hr></body>', '</html>', '',
    ].join('\r\n'));
    const rounded = await request(proxy.url('/ak/'));
    expect(rounded.body).toContain('<a href="big.bin">big.bin</a>                                            02-Jan-2024 03:04    121K\r\n');
    expect(rounded.body).toContain('<a href="adir/">adir/</a>                                              02-Jan-2024 03:04       -\r\n');
  });

  it('json (nginx layout)', async () => {
    const root = listingRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location /aj/ { alias ${root}/ai/; autoindex on; autoindex_format json; } } }`);
    const res = await request(proxy.url('/aj/'));
    expect(res.headers['content-type']).toBe('application/json');
    const t = 'Tue, 02 Jan 2024 03:04:05 GMT';
    expect(res.body).toBe([
      '[',
      `{ "name":"adir", "type":"directory", "mtime":"${t}" },`,
      `{ "name":"zdir", "type":"directory", "mtime":"${t}" },`,
      `{ "name":"a very long file name that goes beyond fifty characters wide.txt", "type":"file", "mtime":"${t}", "size":2 },`,
      `{ "name":"b.txt", "type":"file", "mtime":"${t}", "size":3 },`,
      `{ "name":"big.bin", "type":"file", "mtime":"${t}", "size":123456 },`,
      `{ "name":"q&<x>\\"y.txt", "type":"file", "mtime":"${t}", "size":2 }`,
      ']',
    ].join('\r\n'));
    expect(JSON.parse(res.body)).toHaveLength(6);
  });
});

describe('error log lines (nginx wording, read by fail2ban and logwatch)', () => {
  it('open() failed for a missing file, directory index forbidden, index not found', async () => {
    const root = makeRoot();
    mkdirSync(path.join(root, 'noidx'));
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, `error_log stderr info; http { server { listen 127.0.0.1:${port}; root ${root}; } }`);
    const run = startCli(['-c', conf, '-p', dir]);
    await expect.poll(() => run.output(), { timeout: 15_000 }).toContain('started');
    const out = await rawExchange(port, 'GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /noidx/ HTTP/1.1\r\nHost: x\r\n\r\nGET /nodir/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(out.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 404', 'HTTP/1.1 403', 'HTTP/1.1 404']);
    await expect.poll(() => logRecords(run).filter((r) => r.level === 'error').length, { timeout: 5000 }).toBe(3);
    const errors = logRecords(run).filter((r) => r.level === 'error');
    expect(errors.map((e) => e.msg)).toEqual([
      `open() "${root}/missing.txt" failed (2: No such file or directory)`,
      `directory index of "${root}/noidx/" is forbidden`,
      `"${root}/nodir/index.html" is not found (2: No such file or directory)`,
    ]);
    expect(errors[0]).toMatchObject({ client: '127.0.0.1', request: 'GET /missing.txt HTTP/1.1', host: 'x' });
  });

  it('log_not_found off leaves the 404 lines out, not the 403 one; a location turns it on again (nginx)', async () => {
    // nginx 1.22: with log_not_found off, /missing.txt and /nodir/ log nothing, /noidx/ still logs
    // "directory index ... is forbidden", and /on/missing.txt (log_not_found on) its open() line.
    const root = makeRoot();
    mkdirSync(path.join(root, 'noidx'));
    const dir = tempDir();
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, `error_log stderr info; http { server { listen 127.0.0.1:${port}; root ${root}; log_not_found off;
      location /on/ { log_not_found on; } } }`);
    const run = startCli(['-c', conf, '-p', dir]);
    await expect.poll(() => run.output(), { timeout: 15_000 }).toContain('started');
    const out = await rawExchange(port, 'GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /noidx/ HTTP/1.1\r\nHost: x\r\n\r\n'
      + 'GET /nodir/ HTTP/1.1\r\nHost: x\r\n\r\nGET /on/missing.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(out.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 404', 'HTTP/1.1 403', 'HTTP/1.1 404', 'HTTP/1.1 404']);
    await expect.poll(() => logRecords(run).filter((r) => r.level === 'error').length, { timeout: 5000 }).toBe(2);
    expect(logRecords(run).filter((r) => r.level === 'error').map((e) => e.msg)).toEqual([
      `directory index of "${root}/noidx/" is forbidden`,
      `open() "${root}/on/missing.txt" failed (2: No such file or directory)`,
    ]);
  });
});
