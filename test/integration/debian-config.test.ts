/**
 * Debian's stock nginx config (nginx 1.22 package: nginx.conf, sites-available/default, snippets,
 * proxy_params, fastcgi_params, fastcgi.conf), copied into test/fixtures/debian-nginx/ so the
 * test does not depend on the machine's /etc/nginx. The files name /etc/nginx/ absolutely; the
 * copy under a temporary directory gets that one path rewritten, nothing else.
 */
import { describe, expect, test } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/debian-nginx');

/** The fixture under a temp dir, /etc/nginx/ pointing there; `edit` may change a file's text. */
function debianCopy(edit: (file: string, text: string) => string = (_f, t) => t): string {
  const dir = tempDir('tsproxy-debian-');
  fs.cpSync(FIXTURE, dir, { recursive: true });
  for (const f of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const file = path.join(f.parentPath, f.name);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, edit(path.relative(dir, file), text.replaceAll('/etc/nginx/', `${dir}/`)));
  }
  return dir;
}

describe("Debian's stock /etc/nginx", () => {
  test('nginx.conf passes -t unchanged; every directive with no effect gets a one-line notice', async () => {
    const dir = debianCopy();
    const conf = path.join(dir, 'nginx.conf');
    const r = await runCli(['-t', '-c', conf]);
    expect(r.stderr).toBe([
      // in the order of the expanded tree: the include of modules-enabled/*.conf is line 4
      `tsproxy: [notice] "load_module" directive has no effect in tsproxy in ${dir}/modules-enabled/50-mod-stream.conf:1:1`,
      `tsproxy: [notice] "sendfile" directive has no effect in tsproxy in ${conf}:18:2`,
      `tsproxy: [notice] "tcp_nopush" directive has no effect in tsproxy in ${conf}:19:2`,
      `tsproxy: [notice] "types_hash_max_size" directive has no effect in tsproxy in ${conf}:20:2`,
      `tsproxy: the configuration file ${conf} syntax is ok`,
      `tsproxy: configuration file ${conf} test is successful`,
      '',
    ].join('\n'));
    expect(r.code).toBe(0);
    const quiet = await runCli(['-t', '-q', '-c', conf]);
    expect(quiet.stderr).toBe('');
    expect(quiet.code).toBe(0);
  });

  test("with the commented settings of nginx.conf's http block switched on, it still passes", async () => {
    const uncomment = (f: string, t: string): string => (f === 'nginx.conf'
      ? t.replace(/^(\s*)# ((multi_accept|server_tokens|server_names_hash_bucket_size|server_name_in_redirect|gzip_[a-z_]+) .*)$/gm, '$1$2')
      : t);
    const dir = debianCopy(uncomment);
    expect(fs.readFileSync(path.join(dir, 'nginx.conf'), 'utf8')).toContain('\n\tgzip_types text/plain');
    const r = await runCli(['-t', '-q', '-c', path.join(dir, 'nginx.conf')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('proxy_params and fastcgi_params load where a site includes them', async () => {
    const dir = debianCopy();
    fs.writeFileSync(path.join(dir, 'sites-enabled/default'), [
      'server {',
      '  listen 127.0.0.1:0;',
      '  location / { include proxy_params; proxy_pass http://127.0.0.1:9; }',
      '  location /cgi { include fastcgi_params; include fastcgi.conf; return 404; }',
      '}',
    ].join('\n'));
    const r = await runCli(['-t', '-q', '-c', path.join(dir, 'nginx.conf')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('a PHP location: the snippet and fastcgi_pass unix: pass -t; uwsgi_pass, scgi_pass, grpc_pass are refused by name', async () => {
    const dir = debianCopy();
    const site = path.join(dir, 'sites-enabled/default');
    fs.writeFileSync(site, [
      'server {',
      '  listen 127.0.0.1:0;',
      '  location ~ \\.php$ {',
      '    include snippets/fastcgi-php.conf;',
      '    fastcgi_pass unix:/run/php/php-fpm.sock;',
      '  }',
      '}',
    ].join('\n'));
    const ok = await runCli(['-t', '-q', '-c', path.join(dir, 'nginx.conf')]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    fs.writeFileSync(site, [
      'server {',
      '  listen 127.0.0.1:0;',
      '  location /a { uwsgi_pass 127.0.0.1:9000; }',
      '  location /b { scgi_pass 127.0.0.1:9000; }',
      '  location /c { grpc_pass grpc://127.0.0.1:9000; }',
      '}',
    ].join('\n'));
    const r = await runCli(['-t', '-q', '-c', path.join(dir, 'nginx.conf')]);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('tsproxy: [emerg]'));
    expect(problems).toEqual([
      `tsproxy: [emerg] nginx directive "uwsgi_pass" is not supported by tsproxy (uwsgi backends are not supported; HTTP backends are, with proxy_pass) in ${site}:3:17`,
      `tsproxy: [emerg] nginx directive "scgi_pass" is not supported by tsproxy (SCGI backends are not supported; HTTP backends are, with proxy_pass) in ${site}:4:17`,
      `tsproxy: [emerg] nginx directive "grpc_pass" is not supported by tsproxy (gRPC backends (HTTP/2 to the upstream) are not supported; HTTP/1.1 backends are, with proxy_pass) in ${site}:5:17`,
    ]);
    expect(r.code).toBe(1);
  });
});
