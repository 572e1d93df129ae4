/**
 * Self-signed certificates made in-test with the openssl CLI (apt-get install -y openssl when it
 * is missing): one per host name, including a wildcard, each with its name as CN and SAN.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
