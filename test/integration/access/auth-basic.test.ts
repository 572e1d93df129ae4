/**
 * auth_basic / auth_basic_user_file against nginx 1.22's answers (a real nginx was run on the
 * same htpasswd file: test/fixtures/htpasswd-nginx, made with `openssl passwd` and glibc's
 * crypt()): every hash scheme, nginx's file scanner (comments, CRLF, `user:hash:comment`, the
 * first line of a user wins, a last line without newline), 401 with WWW-Authenticate, $remote_user,
 * and the error-log lines fail2ban's nginx-http-auth filter reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request } from './helpers.js';

const HTPASSWD = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/htpasswd-nginx'), 'latin1');

function fill(dir: string): void {
  fs.mkdirSync(path.join(dir, 'www', 'auth'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'www', 'auth', 'open'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'www', 'missing'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'www', 'dir'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'www', 'var'), { recursive: true });
  for (const d of ['auth', 'auth/open', 'missing', 'dir', 'var']) fs.writeFileSync(path.join(dir, 'www', d, 'f'), 'ok\n');
  fs.writeFileSync(path.join(dir, 'htpasswd'), HTPASSWD, 'latin1');
  fs.writeFileSync(path.join(dir, 'users-a'), 'alice:{PLAIN}a\n');
}

const CONFIG = `http {
  access_log off;
  server {
    listen 127.0.0.1:0;
    server_name example;
    root DIR/www;
    add_header X-User "$remote_user" always;
    location /auth {
      auth_basic "Restricted Area";
      auth_basic_user_file DIR/htpasswd;
      location /auth/open { auth_basic off; }
    }
    location /missing { auth_basic "x"; auth_basic_user_file DIR/nonexistent; }
    location /dir { auth_basic "x"; auth_basic_user_file DIR/www; }
    location /var { auth_basic "realm $arg_r"; auth_basic_user_file DIR/users-$arg_u; }
  }
}`;

describe('auth_basic', () => {
  test('every htpasswd scheme nginx accepts: the right password is 200, a wrong one 401 (as nginx on the same file)', async () => {
    const p = await startAccessProxy(CONFIG, fill);
    const users = ['apr', 's5', 's6', 'sha', 'plain', 'bc', 's5r', 's6long', 'md5', 'by', 'ssha'];
    for (const user of users) {
      expect([user, (await request(p.port, '/auth/f', { auth: `${user}:secret` })).status]).toEqual([user, 200]);
      expect([user, (await request(p.port, '/auth/f', { auth: `${user}:wrong` })).status]).toEqual([user, 401]);
    }
    // nginx's scanner: first line of a user wins, `:` ends the hash, CR ends it, a space is part of the name, no final newline
    const cases: [string, number][] = [['dup:first', 200], ['dup:second', 401], ['cm:pw', 200], ['crlf:pw', 200], [' #sp:x', 200], ['last:end', 200]];
    for (const [auth, status] of cases) expect([auth, (await request(p.port, '/auth/f', { auth })).status]).toEqual([auth, status]);
  });

  test('401 with nginx\'s page and WWW-Authenticate; $remote_user set from the header, even when refused; the log lines nginx writes', async () => {
    const p = await startAccessProxy(CONFIG, fill);
    const none = await request(p.port, '/auth/f');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="Restricted Area"');
    expect(none.body).toContain('<title>401 Authorization Required</title>');
    const ok = await request(p.port, '/auth/f', { auth: 'apr:secret' });
    expect([ok.status, ok.headers['x-user'], ok.body]).toEqual([200, 'apr', 'ok\n']);
    const wrong = await request(p.port, '/auth/f', { auth: 'apr:wrong' });
    expect([wrong.status, wrong.headers['x-user']]).toEqual([401, 'apr']);
    expect((await request(p.port, '/auth/f', { auth: 'nobody:x' })).status).toBe(401);
    // not Basic credentials: bad base64, no colon, empty user (nginx: "no user/password was provided")
    for (const h of ['Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Basic ${Buffer.from(':pw').toString('base64')}`]) {
      expect((await request(p.port, '/auth/f', { headers: { authorization: h } })).status).toBe(401);
    }
    // the scheme is caseless and spaces after it are skipped
    expect((await request(p.port, '/auth/f', { headers: { authorization: `basic   ${Buffer.from('apr:secret').toString('base64')}` } })).status).toBe(200);
    const ctx = 'client: 127.0.0.1, server: example, request: "GET /auth/f HTTP/1.1", host: "example"';
    await expect.poll(() => p.lines().length).toBe(6);
    expect(p.lines()).toEqual([
      `[info] no user/password was provided for basic authentication, ${ctx}`,
      `[error] user "apr": password mismatch, ${ctx}`,
      `[error] user "nobody" was not found in "${p.dir}/htpasswd", ${ctx}`,
      `[info] no user/password was provided for basic authentication, ${ctx}`,
      `[info] no user/password was provided for basic authentication, ${ctx}`,
      `[info] no user/password was provided for basic authentication, ${ctx}`,
    ]);
  });

  test('auth_basic off below; a missing file is 403 and a directory 500, with nginx\'s lines', async () => {
    const p = await startAccessProxy(CONFIG, fill);
    expect((await request(p.port, '/auth/open/f')).status).toBe(200);
    expect((await request(p.port, '/missing/f', { auth: 'a:b' })).status).toBe(403);
    expect((await request(p.port, '/dir/f', { auth: 'a:b' })).status).toBe(500);
    await expect.poll(() => p.lines().length).toBe(2);
    expect(p.lines()).toEqual([
      `[error] open() "${p.dir}/nonexistent" failed (2: No such file or directory), client: 127.0.0.1, server: example, request: "GET /missing/f HTTP/1.1", host: "example"`,
      `[crit] pread() "${p.dir}/www" failed (21: Is a directory), client: 127.0.0.1, server: example, request: "GET /dir/f HTTP/1.1", host: "example"`,
    ]);
  });

  test('variables in the realm and the file path; the file is read again when it changes', async () => {
    const p = await startAccessProxy(CONFIG, fill);
    const r = await request(p.port, '/var/f?u=a&r=one');
    expect(r.headers['www-authenticate']).toBe('Basic realm="realm one"');
    expect((await request(p.port, '/var/f?u=a', { auth: 'alice:a' })).status).toBe(200);
    expect((await request(p.port, '/var/f?u=b', { auth: 'alice:a' })).status).toBe(403);
    // a new password takes effect (within the second the file is trusted)
    fs.writeFileSync(path.join(p.dir, 'users-a'), 'alice:{PLAIN}changed-password\n');
    await expect.poll(async () => (await request(p.port, '/var/f?u=a', { auth: 'alice:changed-password' })).status, { timeout: 5000 }).toBe(200);
    expect((await request(p.port, '/var/f?u=a', { auth: 'alice:a' })).status).toBe(401);
  });
});
