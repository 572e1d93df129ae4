/**
 * Client certificate verification details, as nginx 1.22 does them (checked with a real nginx:
 * curl --cert and openssl s_client):
 * - ssl_verify_depth N allows N intermediate CAs between the client's certificate and the CA;
 *   a longer chain fails with "unable to get local issuer certificate" (400 "The SSL
 *   certificate error"; optional_no_ca lets it through as FAILED:...);
 * - ssl_trusted_certificate verifies client certificates too, but only ssl_client_certificate's
 *   names are sent in the CertificateRequest ("Acceptable client certificate CA names").
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { startProxy } from '../helpers/proxy.js';
import { makeCa, makeCert, makeClientCert, writeCert, type TestCert } from '../helpers/tls-certs.js';

function getWith(port: number, client: { cert: string; key: string } | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, ...(client ?? {}) });
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('end', () => resolve({ status: Number(data.slice(9, 12)), body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
  });
}

function pki(): { root: TestCert; viaIntermediate: { cert: string; key: string }; direct: { cert: string; key: string }; other: TestCert } {
  const root = makeCa('Verify Root');
  const intermediate = makeCa('Verify Int', root);
  const leaf = makeClientCert(intermediate, '/CN=via intermediate');
  const direct = makeClientCert(root, '/CN=direct');
  // The client sends its certificate and the intermediate.
  return { root, viaIntermediate: { cert: leaf.cert + intermediate.cert, key: leaf.key }, direct: { cert: direct.cert, key: direct.key }, other: makeCa('Other Client CA') };
}

async function proxyWith(dir: string, ssl: string): Promise<number> {
  const f = writeCert(dir, 'a', makeCert('a.test'));
  const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
    ${ssl} location / { return 200 "$ssl_client_verify"; } } }`);
  return proxy.port();
}

describe('ssl_verify_depth', () => {
  it('counts the intermediate CAs between the client certificate and the CA', async () => {
    const dir = tempDir();
    const p = pki();
    fs.writeFileSync(path.join(dir, 'root.pem'), p.root.cert);
    const depth0 = await proxyWith(dir, `ssl_client_certificate ${dir}/root.pem; ssl_verify_client on; ssl_verify_depth 0;`);
    expect(await getWith(depth0, p.direct)).toEqual({ status: 200, body: 'SUCCESS' });
    const refused = await getWith(depth0, p.viaIntermediate);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('The SSL certificate error');

    const depth1 = await proxyWith(dir, `ssl_client_certificate ${dir}/root.pem; ssl_verify_client on;`);
    expect(await getWith(depth1, p.viaIntermediate)).toEqual({ status: 200, body: 'SUCCESS' });

    const noCa = await proxyWith(dir, `ssl_client_certificate ${dir}/root.pem; ssl_verify_client optional_no_ca; ssl_verify_depth 0;`);
    expect(await getWith(noCa, p.viaIntermediate)).toEqual({ status: 200, body: 'FAILED:unable to get local issuer certificate' });
  });
});

/** The CA names a server sends in its CertificateRequest, as openssl s_client lists them. */
async function acceptableCaNames(port: number): Promise<string[]> {
  // Not spawnSync: the proxy runs in this process and must answer meanwhile.
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.test'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stdin.end();
  await new Promise((r) => child.on('close', r));
  const from = out.indexOf('Acceptable client certificate CA names');
  if (from < 0) return [];
  const lines = out.slice(from).split('\n').slice(1);
  const names: string[] = [];
  for (const l of lines) {
    if (!/^[A-Z]+ = /.test(l)) break;
    names.push(l.trim());
  }
  return names;
}

describe('ssl_trusted_certificate', () => {
  it('verifies client certificates without sending its CA names', async () => {
    const dir = tempDir();
    const p = pki();
    fs.writeFileSync(path.join(dir, 'client-ca.pem'), p.other.cert);
    fs.writeFileSync(path.join(dir, 'trusted.pem'), p.root.cert);
    const port = await proxyWith(dir, `ssl_client_certificate ${dir}/client-ca.pem; ssl_trusted_certificate ${dir}/trusted.pem; ssl_verify_client on; ssl_verify_depth 2;`);
    expect(await acceptableCaNames(port)).toEqual(['CN = Other Client CA']);
    expect(await getWith(port, p.viaIntermediate)).toEqual({ status: 200, body: 'SUCCESS' });
    expect(await getWith(port, p.direct)).toEqual({ status: 200, body: 'SUCCESS' });
    // ssl_verify_depth applies to chains completed by the trusted certificates too.
    const shallow = await proxyWith(dir, `ssl_client_certificate ${dir}/client-ca.pem; ssl_trusted_certificate ${dir}/trusted.pem; ssl_verify_client on; ssl_verify_depth 0;`);
    expect((await getWith(shallow, p.viaIntermediate)).status).toBe(400);
    // A certificate neither list vouches for is still refused.
    const stranger = makeClientCert(makeCa('Stranger CA'), '/CN=stranger');
    expect((await getWith(port, { cert: stranger.cert, key: stranger.key })).status).toBe(400);
  });
});
