/**
 * $ssl_* variables in nginx's formats. Every expected value below is what nginx 1.22 (OpenSSL 3)
 * printed for the same client settings (a node:tls client, checked with a real nginx):
 *   TLS 1.2, ciphers ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA, curves P-384:P-256 →
 *     id=[] ciphers=[ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA:TLS_EMPTY_RENEGOTIATION_INFO_SCSV]
 *     curve=[secp384r1] curves=[secp384r1:prime256v1]
 *   TLS 1.3, TLS_AES_128_GCM_SHA256, X448:P-256 → id=[64 hex digits]
 *     ciphers=[TLS_AES_128_GCM_SHA256:TLS_EMPTY_RENEGOTIATION_INFO_SCSV] curve=[X448] curves=[X448:prime256v1]
 *   client certificate: $ssl_client_cert is the PEM with a tab before each continuation line,
 *   $ssl_client_s_dn_legacy "/C=DE/ST=Berlin/O=Client, Inc./OU=Dev/CN=...", v_start/v_end as
 *   openssl prints them ("Dec  6 14:43:47 2026 GMT"), v_remain whole days left.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { startProxy } from '../helpers/proxy.js';
import { makeCa, makeCert, makeClientCert, writeCert } from '../helpers/tls-certs.js';

const VARS = ['ssl_session_id', 'ssl_ciphers', 'ssl_curve', 'ssl_curves', 'ssl_client_cert', 'ssl_client_raw_cert', 'ssl_client_escaped_cert',
  'ssl_client_s_dn', 'ssl_client_s_dn_legacy', 'ssl_client_i_dn_legacy', 'ssl_client_v_start', 'ssl_client_v_end', 'ssl_client_v_remain'];

/** The variables of one request, by name (each on its own line, tabs and newlines kept). */
function vars(port: number, o: tls.ConnectionOptions): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, ...o });
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('end', () => {
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      resolve(Object.fromEntries(body.split('\u0001').filter((p) => p !== '').map((p) => {
        const eq = p.indexOf('=');
        return [p.slice(0, eq), p.slice(eq + 1)];
      })));
    });
  });
}

async function proxy(dir: string, extra = ''): Promise<number> {
  const f = writeCert(dir, 'a', makeCert('a.test'));
  const body = VARS.map((v) => `\u0001${v}=$${v}`).join('');
  const p = await startProxy(`http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
    ssl_protocols TLSv1.2 TLSv1.3; ${extra} location / { return 200 "${body}"; } } }`);
  return p.port();
}

describe('$ssl_* variables', () => {
  it('client offers and the negotiated curve, TLS 1.2', async () => {
    const port = await proxy(tempDir());
    const v = await vars(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA', ecdhCurve: 'P-384:P-256' });
    expect(v['ssl_ciphers']).toBe('ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA:TLS_EMPTY_RENEGOTIATION_INFO_SCSV');
    expect(v['ssl_curve']).toBe('secp384r1');
    expect(v['ssl_curves']).toBe('secp384r1:prime256v1');
    // With tickets (the default) a first TLS 1.2 session has no id.
    expect(v['ssl_session_id']).toBe('');
    expect(v['ssl_client_cert']).toBe('');
    expect(v['ssl_client_v_remain']).toBe('');
  });

  it('client offers and the negotiated curve, TLS 1.3; the session id', async () => {
    const port = await proxy(tempDir());
    const v = await vars(port, { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256', ecdhCurve: 'X448:P-256' });
    expect(v['ssl_ciphers']).toBe('TLS_AES_128_GCM_SHA256:TLS_EMPTY_RENEGOTIATION_INFO_SCSV');
    expect(v['ssl_curve']).toBe('X448');
    expect(v['ssl_curves']).toBe('X448:prime256v1');
    expect(v['ssl_session_id']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('$ssl_session_id of a TLS 1.2 session from the cache is the same on resumption', async () => {
    const port = await proxy(tempDir(), 'ssl_session_tickets off; ssl_session_cache shared:V:1m;');
    let session: Buffer | null = null;
    const first = await new Promise<Record<string, string>>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
      s.on('session', (b) => (session = b));
      let data = '';
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
      s.on('data', (d) => (data += d.toString('latin1')));
      s.on('error', reject);
      s.on('end', () => resolve({ id: /\u0001ssl_session_id=([^\u0001]*)/.exec(data)![1]! }));
    });
    expect(first['id']).toMatch(/^[0-9a-f]{64}$/);
    const again = await vars(port, { maxVersion: 'TLSv1.2', session: session! });
    expect(again['ssl_session_id']).toBe(first['id']);
  });

  it('client certificate variables', async () => {
    const dir = tempDir();
    const ca = makeCa('Vars Root');
    const client = makeClientCert(ca, '/C=DE/ST=Berlin/O=Client, Inc./OU=Dev/CN=client one');
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.cert);
    const port = await proxy(dir, `ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;`);
    const v = await vars(port, { cert: client.cert, key: client.key });
    expect(v['ssl_client_s_dn_legacy']).toBe('/C=DE/ST=Berlin/O=Client, Inc./OU=Dev/CN=client one');
    expect(v['ssl_client_i_dn_legacy']).toBe('/CN=Vars Root');
    // RFC 2253 escapes the comma once (nginx: "O=Client\, Inc.").
    expect(v['ssl_client_s_dn']).toBe('CN=client one,OU=Dev,O=Client\\, Inc.,ST=Berlin,C=DE');
    expect(v['ssl_client_raw_cert']).toBe(client.cert);
    // nginx 1.22 gives "-----BEGIN%20CERTIFICATE-----%0AMII...%2B...%3D%0A-----END%20CERTIFICATE-----%0A"
    expect(v['ssl_client_escaped_cert']).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A[A-Za-z0-9%]+%0A-----END%20CERTIFICATE-----%0A$/);
    expect(decodeURIComponent(v['ssl_client_escaped_cert']!)).toBe(client.cert);
    expect(v['ssl_client_escaped_cert']).not.toMatch(/[+/=\n ]/);
    expect(v['ssl_client_cert']).toBe(client.cert.trimEnd().split('\n').join('\n\t'));
    const dates = execFileSync('openssl', ['x509', '-noout', '-startdate', '-enddate'], { input: client.cert, encoding: 'utf8' });
    expect(v['ssl_client_v_start']).toBe(/notBefore=(.*)/.exec(dates)![1]);
    expect(v['ssl_client_v_end']).toBe(/notAfter=(.*)/.exec(dates)![1]);
    expect(v['ssl_client_v_start']).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/);
    // The test certificates are valid for one day: less than a whole day is left.
    expect(v['ssl_client_v_remain']).toBe('0');
  });
});
