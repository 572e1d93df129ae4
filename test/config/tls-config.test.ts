import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { tempDir } from '../helpers/cli.js';
import { makeCert } from '../helpers/tls-certs.js';

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

function messages(r: ReturnType<typeof loadConfigFile>): string[] {
  return r.errors.map((e) => `${e.message} @${e.loc.line}:${e.loc.column}`);
}

describe('ssl_* config', () => {
  it('reads the certificate and key into the tree, watches them, and pairs them by position', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    write(dir, {
      'a.crt': a.cert, 'a.key': a.key,
      'tsproxy.conf': 'http { ssl_certificate a.crt; ssl_certificate_key a.key;\n server { listen 127.0.0.1:0 ssl http2; server_name a.test; ssl_protocols TLSv1.3; location / { return 200; } } }\n',
    });
    const r = loadConfigFile(path.join(dir, 'tsproxy.conf'));
    expect(messages(r)).toEqual([]);
    const s = r.config!.http!.servers[0]!;
    expect(s.listens[0]).toMatchObject({ ssl: true, http2: true });
    expect(s.http2).toBe(true);
    expect(s.ssl.protocols).toEqual(['TLSv1.3']);
    expect(s.ssl.certificates).toHaveLength(1);
    expect(s.ssl.certificates[0]!.cert).toMatchObject({ file: path.join(dir, 'a.crt'), pem: a.cert });
    expect(s.ssl.certificates[0]!.key.pem).toBe(a.key);
    expect(s.ssl.certificates[0]!.passphrase).toBeNull();
    expect(r.config!.files).toEqual(expect.arrayContaining([path.join(dir, 'a.crt'), path.join(dir, 'a.key')]));
  });

  it('changes the hash when a certificate file changes', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    const b = makeCert('b.test');
    const conf = 'http { server { listen 127.0.0.1:0 ssl; ssl_certificate c.crt; ssl_certificate_key c.key; } }\n';
    write(dir, { 'c.crt': a.cert, 'c.key': a.key, 'tsproxy.conf': conf });
    const before = loadConfigFile(path.join(dir, 'tsproxy.conf')).config!.hash;
    write(dir, { 'c.crt': b.cert, 'c.key': b.key });
    const after = loadConfigFile(path.join(dir, 'tsproxy.conf')).config!.hash;
    expect(after).not.toBe(before);
  });

  it('refuses an ssl listen whose default server has no certificate', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http {\n  server { listen 127.0.0.1:8443 ssl; }\n}\n' });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual([
      'no "ssl_certificate" is defined for the "listen ... ssl" directive @2:19',
    ]);
  });

  it('lets other servers of an ssl address use the default server\'s certificate', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    write(dir, {
      'a.crt': a.cert, 'a.key': a.key,
      'tsproxy.conf': 'http {\n  server { listen 127.0.0.1:8443 ssl; ssl_certificate a.crt; ssl_certificate_key a.key; }\n  server { listen 127.0.0.1:8443; server_name b.test; }\n}\n',
    });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual([]);
  });

  it('names the file of a missing certificate, a bad PEM and a key that does not match', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    const b = makeCert('b.test');
    write(dir, {
      'a.crt': a.cert, 'b.key': b.key, 'junk.crt': 'not a certificate\n', 'a.key': a.key,
      'tsproxy.conf': [
        'http {',
        '  server { listen 127.0.0.1:1 ssl; ssl_certificate missing.crt; ssl_certificate_key a.key; }',
        '  server { listen 127.0.0.1:2 ssl; ssl_certificate a.crt; ssl_certificate_key b.key; }',
        '  server { listen 127.0.0.1:3 ssl; ssl_certificate junk.crt; ssl_certificate_key a.key; }',
        '}', '',
      ].join('\n'),
    });
    const m = messages(loadConfigFile(path.join(dir, 'tsproxy.conf')));
    expect(m[0]).toBe(`cannot load certificate "${path.join(dir, 'missing.crt')}": no such file @2:52`);
    expect(m[1]).toBe(`the key "${path.join(dir, 'b.key')}" does not match the certificate "${path.join(dir, 'a.crt')}" (ssl_certificate) @3:79`);
    expect(m[2]).toMatch(new RegExp(`^cannot load certificate "${path.join(dir, 'junk.crt')}": .+ @4:52$`));
  });

  it('refuses a certificate without its key', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http {\n  server { listen 127.0.0.1:4 ssl; ssl_certificate a.crt; }\n}\n' });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual(['no "ssl_certificate_key" is defined for certificate "a.crt" @2:52']);
  });

  it('opens an encrypted key with ssl_password_file, and says when none of its lines does', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:s3cret', '-out', path.join(dir, 'enc.key')], { input: a.key });
    write(dir, {
      'a.crt': a.cert, 'good.pw': 'wrong\ns3cret\n', 'bad.pw': 'nope\n',
      'ok.conf': 'http { server { listen 127.0.0.1:0 ssl; ssl_certificate a.crt; ssl_certificate_key enc.key; ssl_password_file good.pw; } }\n',
      'bad.conf': 'http { server { listen 127.0.0.1:0 ssl; ssl_certificate a.crt; ssl_certificate_key enc.key; ssl_password_file bad.pw; } }\n',
      'none.conf': 'http { server { listen 127.0.0.1:0 ssl; ssl_certificate a.crt; ssl_certificate_key enc.key; } }\n',
    });
    const ok = loadConfigFile(path.join(dir, 'ok.conf'));
    expect(messages(ok)).toEqual([]);
    expect(ok.config!.http!.servers[0]!.ssl.certificates[0]!.passphrase).toBe('s3cret');
    expect(messages(loadConfigFile(path.join(dir, 'bad.conf')))[0]).toMatch(/enc\.key": no passphrase of the password file decrypts it/);
    expect(messages(loadConfigFile(path.join(dir, 'none.conf')))[0]).toMatch(/enc\.key": the key is encrypted and no "ssl_password_file" is given/);
  });

  it('accepts ssl in stream servers and checks their certificates too', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'stream {\n  server { listen 127.0.0.1:0 ssl; proxy_pass 127.0.0.1:9; }\n}\n' });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual([
      'no "ssl_certificate" is defined for the "listen ... ssl" directive @2:19',
    ]);
  });

  it('refuses SSLv3 and unknown verify modes', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http { ssl_protocols SSLv3 TLSv1.2; ssl_verify_client maybe; }\n' });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual([
      'invalid value "SSLv3" in "ssl_protocols" directive @1:22',
      'invalid value "maybe" in "ssl_verify_client" directive @1:55',
    ]);
  });

  it('inherits proxy_ssl_* from http to location, pairing a certificate and a key set at different levels', () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    write(dir, {
      'c.crt': a.cert, 'c.key': a.key, 'ca.pem': a.cert,
      'tsproxy.conf': 'http { proxy_ssl_certificate c.crt; proxy_ssl_verify on; server { listen 127.0.0.1:0; proxy_ssl_certificate_key c.key; location / { proxy_ssl_trusted_certificate ca.pem; proxy_ssl_name up.test; proxy_pass https://127.0.0.1:9; } } }\n',
    });
    const r = loadConfigFile(path.join(dir, 'tsproxy.conf'));
    expect(messages(r)).toEqual([]);
    const p = r.config!.http!.servers[0]!.locations[0]!.settings.proxySsl;
    expect(p).toMatchObject({ verify: true, name: 'up.test', serverName: false, trustedCertificate: { pem: a.cert } });
    expect(p.certificate.cert!.pem).toBe(a.cert);
    expect(p.certificate.key!.pem).toBe(a.key);
  });
});

describe('health checks and https upstreams', () => {
  it('warns that check type=http does not speak TLS on a group used with https://', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http {\n  upstream app { server 127.0.0.1:9443; check interval=1s type=http; }\n  upstream ok { server 127.0.0.1:9444; check type=ssl_hello; }\n  server { listen 127.0.0.1:0; location / { proxy_pass https://app; } location /b { proxy_pass https://ok; } }\n}\n' });
    const r = loadConfigFile(path.join(dir, 'tsproxy.conf'));
    expect(messages(r)).toEqual([]);
    expect(r.warnings.map((w) => `${w.message} @${w.loc.line}`)).toEqual([
      '"check type=http" does not speak TLS, but upstream "app" is used with "https://"; use type=tcp or type=ssl_hello @2',
    ]);
  });
});

describe('OpenSSL lists', () => {
  it('refuses an unknown cipher list or curve at load time, where it is written', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http {\n  ssl_ciphers NO-SUCH-CIPHER;\n  ssl_ecdh_curve nocurve;\n  proxy_ssl_ciphers ALSO-NOT;\n  ssl_prefer_server_ciphers on;\n}\n' });
    const m = messages(loadConfigFile(path.join(dir, 'tsproxy.conf')));
    expect(m).toHaveLength(3);
    expect(m[0]).toMatch(/^invalid value "NO-SUCH-CIPHER" in "ssl_ciphers" directive: .+ @2:15$/);
    expect(m[1]).toMatch(/^invalid value "nocurve" in "ssl_ecdh_curve" directive: .+ @3:18$/);
    expect(m[2]).toMatch(/^invalid value "ALSO-NOT" in "proxy_ssl_ciphers" directive: .+ @4:21$/);
  });

  it('accepts OpenSSL cipher strings and curve lists nginx configs use', () => {
    const dir = tempDir();
    write(dir, { 'tsproxy.conf': 'http {\n  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;\n  ssl_ecdh_curve X25519:prime256v1:secp384r1;\n}\n' });
    expect(messages(loadConfigFile(path.join(dir, 'tsproxy.conf')))).toEqual([]);
  });
});
