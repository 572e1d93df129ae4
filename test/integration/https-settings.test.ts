/**
 * ssl_* settings that change what a TLS client sees: an encrypted key opened with
 * ssl_password_file, ssl_protocols, ssl_session_tickets.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { startProxy } from '../helpers/proxy.js';
import { makeCert, writeCert } from '../helpers/tls-certs.js';

interface Handshake {
  readonly ok: boolean;
  readonly protocol: string | null;
  readonly reused: boolean;
  readonly body: string;
  readonly session: Buffer | null;
  readonly error: string | null;
}

/** One TLS connection, one GET; resolves with what the handshake and the answer were. */
function get(port: number, o: { minVersion?: tls.SecureVersion; maxVersion?: tls.SecureVersion; session?: Buffer | null } = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    let session: Buffer | null = null;
    let body = '';
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, ...(o.minVersion ? { minVersion: o.minVersion } : {}), ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}), ...(o.session ? { session: o.session } : {}) });
    s.on('session', (b) => (session = b));
    s.on('error', (e) => resolve({ ok: false, protocol: null, reused: false, body: '', session: null, error: e.message }));
    s.on('secureConnect', () => s.end('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (body += d.toString('latin1')));
    s.on('end', () => resolve({ ok: true, protocol: s.getProtocol(), reused: s.isSessionReused(), body: body.slice(body.indexOf('\r\n\r\n') + 4), session, error: null }));
  });
}

describe('ssl_* settings', () => {
  it('opens an encrypted key with the ssl_password_file line that fits', async () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    const f = writeCert(dir, 'a', a);
    execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:right', '-out', path.join(dir, 'enc.key')], { input: a.key });
    fs.writeFileSync(path.join(dir, 'pw'), 'wrong\nright\n');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${dir}/enc.key;
      ssl_password_file ${dir}/pw; location / { return 200 "secret kept\\n"; } } }`);
    const r = await get(proxy.port());
    expect(r.error).toBeNull();
    expect(r.body).toBe('secret kept\n');
  });

  it('speaks only the ssl_protocols listed', async () => {
    const dir = tempDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
      ssl_protocols TLSv1.3; location / { return 200 "$ssl_protocol\\n"; } } }`);
    const v13 = await get(proxy.port());
    expect(v13.body).toBe('TLSv1.3\n');
    const v12 = await get(proxy.port(), { maxVersion: 'TLSv1.2' });
    expect(v12.ok).toBe(false);
  });

  it('resumes sessions by ticket, and not with ssl_session_tickets off', async () => {
    const dir = tempDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const resumes = async (tickets: 'on' | 'off'): Promise<boolean> => {
      const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        ssl_protocols TLSv1.2; ssl_session_tickets ${tickets}; location / { return 200 "$ssl_session_reused\\n"; } } }`);
      const first = await get(proxy.port());
      expect(first.body).toBe('.\n');
      const second = await get(proxy.port(), { session: first.session });
      expect(second.body).toBe(second.reused ? 'r\n' : '.\n');
      return second.reused;
    };
    expect(await resumes('on')).toBe(true);
    expect(await resumes('off')).toBe(false);
  });
});
