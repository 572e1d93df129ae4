/**
 * Self-signed certificates made in-test with the openssl CLI (apt-get install -y openssl when it
 * is missing): one per host name, including a wildcard, each with its name as CN and SAN.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import tls from 'node:tls';
import { onTestFinished } from 'vitest';

export interface TestCert {
  readonly name: string;
  readonly key: string;
  readonly cert: string;
}

const cache = new Map<string, TestCert>();

function openssl(): string {
  for (const p of ['/usr/bin/openssl', '/usr/local/bin/openssl']) if (fs.existsSync(p)) return p;
  execFileSync('apt-get', ['install', '-y', 'openssl'], { stdio: 'ignore' });
  return 'openssl';
}

/** A key and self-signed certificate for `name` ("a.test", "*.wild.test"), valid for a day. */
export function makeCert(name: string): TestCert {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    execFileSync(
      openssl(),
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', certFile, '-days', '1',
        '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const cert = { name, key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
    cache.set(name, cert);
    return cert;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Certificates for the two host names and the wildcard the SNI tests route by. */
export function testCerts(): { a: TestCert; b: TestCert; wild: TestCert } {
  return { a: makeCert('a.test'), b: makeCert('b.test'), wild: makeCert('*.wild.test') };
}

/**
 * A CA certificate (CA:TRUE, keyCertSign) named `name`: self-signed, or signed by `issuer` (an
 * intermediate). Use its `cert` as a trust list and pass it to makeSignedCert.
 */
export function makeCa(name: string, issuer?: TestCert): TestCert {
  return signed(`ca:${issuer?.name ?? ''}:${name}`, name, issuer ?? null, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
}

/** A leaf certificate for `name` (a DNS name or an IP address, as CN and SAN) signed by `issuer`. */
export function makeSignedCert(issuer: TestCert, name: string): TestCert {
  const san = /^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`;
  return signed(`leaf:${issuer.name}:${name}`, name, issuer, `basicConstraints=CA:FALSE\nsubjectAltName=${san}\n`);
}

function signed(cacheKey: string, name: string, issuer: TestCert | null, ext: string): TestCert {
  const hit = cache.get(cacheKey);
  if (hit !== undefined) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-cert-'));
  try {
    const f = (n: string) => path.join(dir, n);
    fs.writeFileSync(f('ext.cnf'), ext);
    const run = (args: string[]) => execFileSync(openssl(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key.pem'), '-subj', `/CN=${name}`];
    if (issuer === null) {
      run(['req', '-x509', ...keyArgs, '-out', f('cert.pem'), '-days', '1', '-extensions', 'v3', '-config', writeReqConfig(f, ext)]);
    } else {
      fs.writeFileSync(f('issuer.pem'), issuer.cert);
      fs.writeFileSync(f('issuer.key'), issuer.key);
      run(['req', '-new', ...keyArgs, '-out', f('req.csr')]);
      run(['x509', '-req', '-in', f('req.csr'), '-CA', f('issuer.pem'), '-CAkey', f('issuer.key'), '-set_serial', String(Date.now()), '-days', '1', '-out', f('cert.pem'), '-extfile', f('ext.cnf')]);
    }
    const cert = { name, key: fs.readFileSync(f('key.pem'), 'utf8'), cert: fs.readFileSync(f('cert.pem'), 'utf8') };
    cache.set(cacheKey, cert);
    return cert;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function writeReqConfig(f: (n: string) => string, ext: string): string {
  fs.writeFileSync(f('req.cnf'), `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${ext}`);
  return f('req.cnf');
}

/**
 * A client certificate signed by `issuer` (a makeCa CA) with a full subject in openssl -subj form
 * ("/C=US/O=Org/CN=client"), for $ssl_client_s_dn; the serial is random.
 */
export function makeClientCert(issuer: TestCert, subject: string): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-client-'));
  try {
    const f = (n: string) => path.join(dir, n);
    const run = (args: string[]) => execFileSync(openssl(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.writeFileSync(f('issuer.pem'), issuer.cert);
    fs.writeFileSync(f('issuer.key'), issuer.key);
    fs.writeFileSync(f('ext.cnf'), 'basicConstraints=CA:FALSE\n');
    run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key.pem'), '-subj', subject, '-out', f('req.csr')]);
    const serial = `0x${Math.floor(Math.random() * 2 ** 48).toString(16)}`;
    run(['x509', '-req', '-in', f('req.csr'), '-CA', f('issuer.pem'), '-CAkey', f('issuer.key'), '-set_serial', serial, '-days', '1', '-out', f('cert.pem'), '-extfile', f('ext.cnf')]);
    return { name: subject, key: fs.readFileSync(f('key.pem'), 'utf8'), cert: fs.readFileSync(f('cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `<base>.crt` and `<base>.key` for a certificate into `dir`; returns their paths. */
export function writeCert(dir: string, base: string, c: TestCert): { cert: string; key: string } {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  fs.writeFileSync(cert, c.cert);
  fs.writeFileSync(key, c.key);
  return { cert, key };
}

/** A TLS server on 127.0.0.1:0 with `cert` that greets each client with "hello from NAME" and closes; its port. Closed when the test ends. */
export async function startTlsBackend(cert: TestCert): Promise<number> {
  const srv = tls.createServer({ key: cert.key, cert: cert.cert }, (s) => {
    s.on('error', () => {});
    s.end(`hello from ${cert.name}`);
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}
