import { describe, expect, test, onTestFinished } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { logRecords, runCli, startCli, tempDir, ROOT, type RunningCli } from '../helpers/cli.js';
import { DEFAULT_CONFIG_PATH } from '../../src/cli/args.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/cli');

/** The port a running tsproxy logged for a listen key (its "listening" error-log line). */
function loggedPort(run: RunningCli, key: string): number | null {
  const rec = logRecords(run).find((r) => r.msg === 'listening' && r.listen === key);
  return rec === undefined ? null : Number(rec.address!.split(':').pop());
}

describe('tsproxy -t', () => {
  test('the shipped config passes', async () => {
    const r = await runCli(['-t', '-p', ROOT, '-c', 'conf/tsproxy.conf']);
    const file = path.join(ROOT, 'conf/tsproxy.conf');
    expect(r.stderr).toContain(`tsproxy: the configuration file ${file} syntax is ok\n`);
    expect(r.stderr).toContain(`tsproxy: configuration file ${file} test is successful\n`);
    expect(r.code).toBe(0);
  });

  test('every error of a broken config, with position, source line and caret', async () => {
    const file = path.join(FIXTURES, 'broken.conf');
    const r = await runCli(['-t', '-c', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    const first = lines.findIndex((l) => l.includes('unknown directive "proxy_pas"'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(lines[first]).toMatch(new RegExp(`^tsproxy: \\[emerg\\] unknown directive "proxy_pas".* in ${file.replace(/[.]/g, '\\.')}:8:13$`));
    expect(lines[first + 1]).toBe('            proxy_pas http://127.0.0.1:9;');
    expect(lines[first + 2]).toBe('            ^^^^^^^^^');
    expect(r.stderr).toContain(`in ${file}:11:35`);
    expect(r.stderr.trimEnd().split('\n').pop()).toBe(`tsproxy: configuration file ${file} test failed`);
  });

  // -t loads node:tls and node:crypto only where a certificate or a cipher list needs them, and
  // does not check the table's default cipher lists against OpenSSL (HACKING.md, "-t speed"):
  // what only the build's checks and the TLS file check find is still reported, positioned.
  test('errors only the build checks find, and a key only OpenSSL refuses, with file:line:col', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'v.conf');
    fs.writeFileSync(file, [
      'events {}', 'http {', '    ssl_ciphers HIGH:!aNULL:!MD5;', '    proxy_ssl_ciphers DEFAULT;',
      '    server {', '        listen 127.0.0.1:8080 default_server;', '        location / { proxy_pass http://missing_upstream; }', '    }',
      '    server {', '        listen 127.0.0.1:8080 default_server;', '    }', '}', '',
    ].join('\n'));
    const r = await runCli(['-t', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`tsproxy: [emerg] host not found in upstream "missing_upstream" in ${file}:7:33\n`);
    expect(r.stderr).toContain(`tsproxy: [emerg] a duplicate default server for 127.0.0.1:8080 in ${file}:10:16\n`);
    expect(r.stderr.trimEnd().split('\n').pop()).toBe(`tsproxy: configuration file ${file} test failed`);

    fs.writeFileSync(path.join(dir, 'cert.pem'), 'not a certificate\n');
    fs.writeFileSync(path.join(dir, 'key.pem'), 'not a key\n');
    fs.writeFileSync(file, [
      'events {}', 'http {', '    ssl_ciphers HIGH:!aNULL:!MD5;', '    server {', '        listen 127.0.0.1:8443 ssl;',
      '        ssl_certificate cert.pem;', '        ssl_certificate_key key.pem;', '    }', '}', '',
    ].join('\n'));
    const t = await runCli(['-t', '-c', file]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(new RegExp(`tsproxy: \\[emerg\\] cannot load certificate key "${path.join(dir, 'key.pem').replace(/[.]/g, '\\.')}": .+ in ${file.replace(/[.]/g, '\\.')}:7:29\n`));
  });

  test('-q prints nothing on success', async () => {
    const r = await runCli(['-t', '-q', '-p', ROOT, '-c', 'conf/tsproxy.conf']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  test('-T dumps every file with includes', async () => {
    const r = await runCli(['-T', '-c', path.join(FIXTURES, 'main.conf')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`# configuration file ${path.join(FIXTURES, 'main.conf')}:\n# main file for -T`);
    expect(r.stdout).toContain(`# configuration file ${path.join(FIXTURES, 'main.d/site.conf')}:\nserver {`);
  });

  test('a missing config file is reported with nginx wording, without a position', async () => {
    const r = await runCli(['-t', '-c', '/nonexistent/tsproxy.conf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'tsproxy: [emerg] open() "/nonexistent/tsproxy.conf" failed (2: No such file or directory)\n' +
        'tsproxy: configuration file /nonexistent/tsproxy.conf test failed\n',
    );
  });

  test.skipIf(fs.existsSync(DEFAULT_CONFIG_PATH))('no -c and no default config: nginx\'s open() line, no fake position', async () => {
    const r = await runCli([], { cwd: tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsproxy: [emerg] open() "${DEFAULT_CONFIG_PATH}" failed (2: No such file or directory)\n`);
  });
});

describe('version and usage', () => {
  test('-v and -V (what is built in: TLS and HTTP/2 included)', async () => {
    const v = await runCli(['-v']);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/^tsproxy version: tsproxy\/\d+\.\d+\.\d+\n$/);
    const V = await runCli(['-V']);
    // nginx -V (1.22, Debian): "nginx version: ...", "built with OpenSSL 3.0.x ...", "TLS SNI support enabled", "configure arguments: ...".
    const lines = V.stderr.split('\n');
    expect(lines[1]).toBe(`built with OpenSSL ${process.versions.openssl} (node ${process.version})`);
    expect(lines[2]).toBe('TLS SNI support enabled');
    expect(lines[3]).toMatch(/^configure arguments: /);
    const args = /configure arguments: (.*)\n/.exec(V.stderr)![1]!.split(' ');
    expect(args).toEqual(expect.arrayContaining(['--with-http_ssl_module', '--with-http_v2_module', '--with-stream', '--with-stream_ssl_module']));
    expect(args).not.toContain('--without-http_ssl_module');
    expect(args).not.toContain('--without-http_v2_module');
  });

  test('-h gives the real defaults', async () => {
    const h = await runCli(['-h']);
    expect(h.code).toBe(0);
    expect(h.stderr).toContain('-e filename   : set error log file used when the configuration names none (default: stderr)\n');
    expect(h.stderr).toContain(`-c filename   : set configuration file (default: ${DEFAULT_CONFIG_PATH})\n`);
  });

  test('an unknown flag prints usage and fails', async () => {
    const r = await runCli(['-x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tsproxy: invalid option: "x"');
    expect(r.stderr).toContain('Usage: tsproxy');
  });
});

// Each tsproxy start compiles the sources through tsx: seconds on a loaded CI machine.
describe('running', () => {
  test('a config error at start exits non-zero quickly, writes no pid file, creates the error log', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 't.conf'), 'pid run/t.pid;\nerror_log logs/err.log;\nhttp { server { listen 127.0.0.1:0; bogus; } }\n');
    const started = Date.now();
    const r = await runCli(['-c', path.join(dir, 't.conf')]);
    expect(r.code).toBe(1);
    // Bounded loosely: tsx compiling the sources dominates on a loaded CI machine; a hang would hit it.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.stderr).toContain('[emerg] unknown directive "bogus"');
    expect(fs.existsSync(path.join(dir, 'run/t.pid'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'logs/err.log'), 'utf8')).toContain('unknown directive "bogus"');
  });

  test('pid file after bind, -s reload and -s quit, stale pid file', async () => {
    const dir = tempDir();
    const conf = path.join(dir, 't.conf');
    fs.writeFileSync(conf, 'pid t.pid;\nerror_log stderr info;\nwatch off;\nhttp { server { listen 127.0.0.1:0; location / { return 200 "one"; } } }\n');
    const run = startCli(['-c', conf]);
    await expect.poll(() => fs.existsSync(path.join(dir, 't.pid')), { timeout: 10_000 }).toBe(true);
    expect(loggedPort(run, '127.0.0.1:0')).toBeGreaterThan(0);
    expect(Number(fs.readFileSync(path.join(dir, 't.pid'), 'utf8'))).toBe(run.child.pid);

    fs.writeFileSync(conf, 'pid t.pid;\nerror_log stderr info;\nwatch off;\nhttp { server { listen 127.0.0.1:0; location / { return 200 "two"; } } }\n');
    const reload = await runCli(['-s', 'reload', '-c', conf]);
    expect(reload.code).toBe(0);
    await expect.poll(() => run.output(), { timeout: 10_000 }).toContain('configuration reloaded');

    const quit = await runCli(['-s', 'quit', '-c', conf]);
    expect(quit.code).toBe(0);
    expect(await run.exited).toBe(0);
    expect(fs.existsSync(path.join(dir, 't.pid'))).toBe(false);

    fs.writeFileSync(path.join(dir, 't.pid'), '999999\n');
    const stale = await runCli(['-s', 'reload', '-c', conf]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('stale pid file');
  }, 90_000);

  test('worker_connections caps concurrent client connections', async () => {
    const dir = tempDir();
    const conf = path.join(dir, 't.conf');
    fs.writeFileSync(conf, 'pid t.pid;\nerror_log stderr info;\nwatch off;\nevents { worker_connections 2; }\nhttp { server { listen 127.0.0.1:0; location / { return 200 "ok"; } } }\n');
    const run = startCli(['-c', conf]);
    await expect.poll(() => loggedPort(run, '127.0.0.1:0'), { timeout: 20_000 }).toBeGreaterThan(0);
    const port = loggedPort(run, '127.0.0.1:0')!;
    const open = async () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      onTestFinished(() => void s.destroy());
      await new Promise((r) => s.once('connect', r));
      return s;
    };
    const a = await open();
    const b = await open();
    const c = await open();
    // The third connection is over the cap: the server closes it without reading.
    await new Promise((r) => c.once('close', r));
    expect(a.destroyed || b.destroyed).toBe(false);
  }, 60_000);
});

describe('files under the prefix (nginx)', () => {
  test('-p DIR -c file -e file from another directory: both relative to the prefix', async () => {
    const site = tempDir();
    fs.writeFileSync(path.join(site, 'nginx.conf'), 'pid off;\nhttp { server { listen 127.0.0.1:0; location / { return 200; } } }\n');
    const r = await runCli(['-t', '-p', `${site}/`, '-c', 'nginx.conf'], { cwd: tempDir() });
    expect(r.stderr).toContain(`configuration file ${path.join(site, 'nginx.conf')} test is successful`);
    expect(r.code).toBe(0);

    // -e names the error log used when the config names none: it lands under the prefix too
    const run = startCli(['-p', site, '-c', 'nginx.conf', '-e', 'error.log'], { cwd: tempDir() });
    const errorLog = path.join(site, 'error.log');
    await expect.poll(() => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''), { timeout: 30_000 }).toContain('tsproxy started');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 60_000);

  test("`tsproxy -s reload` with npm start's -p/-c finds the pid file the running instance wrote (default logs/tsproxy.pid under the prefix)", async () => {
    // npm start runs the script in package.json from the package root; a fresh clone's layout:
    const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
    const args = start.split(' ').slice(2);
    expect(start).toBe(`node dist/cli.js ${args.join(' ')}`);
    expect(args).toEqual(['-p', '.', '-c', 'conf/tsproxy.conf']);
    const clone = tempDir();
    fs.mkdirSync(path.join(clone, 'conf'));
    const conf = path.join(clone, 'conf/tsproxy.conf');
    const write = (body: string) => fs.writeFileSync(conf, `error_log stderr info;\nwatch off;\nhttp { server { listen 127.0.0.1:0; location / { return 200 "${body}"; } } }\n`);
    write('one');
    const run = startCli(args, { cwd: clone });
    const pidFile = path.join(clone, 'logs/tsproxy.pid');
    await expect.poll(() => fs.existsSync(pidFile), { timeout: 30_000 }).toBe(true);
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).toBe(run.child.pid);

    write('two');
    // `npm start -- -s reload` runs exactly this, from the package root
    const reload = await runCli([...args, '-s', 'reload'], { cwd: clone });
    expect(reload.stderr).toBe('');
    expect(reload.code).toBe(0);
    await expect.poll(() => logRecords(run).filter((r) => r.msg === 'configuration reloaded').length, { timeout: 10_000 }).toBe(1);
    // and the same from elsewhere, with the prefix spelled out
    const quit = await runCli(['-p', clone, '-c', 'conf/tsproxy.conf', '-s', 'quit'], { cwd: tempDir() });
    expect(quit.code).toBe(0);
    expect(await run.exited).toBe(0);
    expect(fs.existsSync(pidFile)).toBe(false);
  }, 90_000);
});

describe('install', () => {
  test('`npm install -g .` puts a working `tsproxy` on the PATH (a link to the built clone)', async () => {
    const prefix = tempDir('tsproxy-global-');
    const npm = await runCommand('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, '.'], ROOT);
    expect(npm.code, npm.output).toBe(0);
    const bin = path.join(prefix, 'bin/tsproxy');
    const v = await runCommand(bin, ['-v'], tempDir(), { PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
    expect(v.output).toMatch(/^tsproxy version: tsproxy\/\d+\.\d+\.\d+\n$/);
  }, 120_000);
});

function runCommand(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (e) => resolve({ code: -1, output: e.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}
