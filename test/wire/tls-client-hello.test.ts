import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeClientHello, parseClientHello } from '../../src/wire/tls-client-hello.js';
import tls from 'node:tls';
import { captureClientHello } from '../tcp/stream-harness.js';
import { makeCert } from '../helpers/tls-certs.js';

/** A session (with its ticket) from one full handshake with a node:tls server. */
async function sessionFromServer(version: tls.SecureVersion): Promise<Buffer> {
  const c = makeCert('a.test');
  const server = tls.createServer({ key: c.key, cert: c.cert }, (s) => s.end('x'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      let session: Buffer | null = null;
      const s = tls.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, rejectUnauthorized: false, minVersion: version, maxVersion: version });
      s.on('session', (b) => (session = b));
      s.on('error', reject);
      s.resume();
      s.on('end', () => (session === null ? reject(new Error('no session')) : resolve(session)));
    });
  } finally {
    server.close();
  }
}

/** Re-frame a single-record hello into records of at most `size` handshake bytes. */
function fragment(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const h = Buffer.from([0x16, hello[1]!, hello[2]!, 0, 0]);
    h.writeUInt16BE(part.length, 3);
    out.push(h, part);
  }
  return Buffer.concat(out);
}

describe('parseClientHello', () => {
  it('reads the SNI and ALPN of a real node:tls ClientHello', async () => {
    const hello = await captureClientHello({ servername: 'A.Test', ALPNProtocols: ['h2', 'http/1.1'] });
    const r = parseClientHello(hello);
    // client_version says TLS 1.2; supported_versions offers 1.3 (what $ssl_preread_protocol reads)
    expect(r).toMatchObject({ kind: 'ok', hello: { serverName: 'a.test', alpn: ['h2', 'http/1.1'], recordVersion: 0x0301, version: 0x0304, ticket: null, pskIdentity: null } });
    if (r.kind !== 'ok') return;
    // TLS 1.3 compatibility mode sends a 32-byte legacy session id; suites and groups are 2 bytes each.
    expect(r.hello.sessionId.length).toBe(32);
    expect(r.hello.cipherSuites.length % 2).toBe(0);
    expect(r.hello.cipherSuites.includes(Buffer.from([0x13, 0x01]))).toBe(true);
    expect(r.hello.groups.includes(Buffer.from([0x00, 0x1d]))).toBe(true);
  });

  it('reads the session ticket (TLS 1.2) and the PSK identity (TLS 1.3) of a resuming client', async () => {
    for (const [version, field] of [['TLSv1.2', 'ticket'], ['TLSv1.3', 'pskIdentity']] as const) {
      const session = await sessionFromServer(version);
      const r = parseClientHello(await captureClientHello({ session, minVersion: version, maxVersion: version }));
      expect(r.kind === 'ok' && r.hello[field]!.length).toBeGreaterThan(32);
    }
  });

  it('a hello without supported_versions: its client_version (a TLS 1.2-only node:tls client)', async () => {
    const hello = await captureClientHello({ servername: 'a.test', maxVersion: 'TLSv1.2' });
    const r = parseClientHello(hello);
    expect(r.kind === 'ok' && r.hello.version).toBe(0x0303);
  });

  it('reports no server name when the client sends no SNI (IP host)', async () => {
    const r = parseClientHello(await captureClientHello({}));
    expect(r.kind === 'ok' && r.hello.serverName).toBe(null);
  });

  it('is incomplete on every strict prefix (hello split across TCP segments)', async () => {
    const hello = await captureClientHello({ servername: 'b.test' });
    for (let n = 0; n < hello.length; n++) expect(parseClientHello(hello.subarray(0, n)).kind).toBe('incomplete');
    expect(parseClientHello(hello).kind).toBe('ok');
  });

  it('reassembles a hello fragmented over several TLS records', async () => {
    const hello = await captureClientHello({ servername: 'long-name.wild.test' });
    const split = fragment(hello, 37);
    for (let n = 0; n < split.length; n += 7) expect(parseClientHello(split.subarray(0, n)).kind).toBe('incomplete');
    const r = parseClientHello(split);
    expect(r.kind === 'ok' && r.hello.serverName).toBe('long-name.wild.test');
  });

  it('says notTls for other protocols', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('notTls');
    expect(parseClientHello(Buffer.from('SSH-2.0-x')).kind).toBe('notTls');
  });

  it('rejects a non-hello handshake, a huge length, a bad record version and a corrupt SNI', async () => {
    const hello = await captureClientHello({ servername: 'a.test' });
    const notHello = Buffer.from(hello);
    notHello[5] = 0x02;
    expect(parseClientHello(notHello).kind).toBe('invalid');
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0xff, 0xff])).kind).toBe('tooLarge');
    expect(parseClientHello(Buffer.from([0x16, 9, 1, 0, 5])).kind).toBe('invalid');
    const at = hello.indexOf(Buffer.from('a.test'));
    const corrupt = Buffer.from(hello);
    corrupt[at] = 0x0a; // a newline inside the host name
    expect(parseClientHello(corrupt).kind).toBe('invalid');
  });

  it('gives up on a stream of handshake records that never completes within the bound', () => {
    const record = Buffer.concat([Buffer.from([0x16, 3, 1, 0x10, 0x00]), Buffer.from([1, 0xff, 0xff, 0xff]), Buffer.alloc(0x1000 - 4)]);
    expect(parseClientHello(record).kind).toBe('tooLarge');
  });
});

describe('encodeClientHello', () => {
  it('is a whole ClientHello to the parser: one record, no SNI, no ALPN', () => {
    const hello = encodeClientHello();
    expect(hello.readUInt16BE(3)).toBe(hello.length - 5);
    expect(parseClientHello(hello)).toMatchObject({ kind: 'ok', hello: { serverName: null, alpn: [], recordVersion: 0x0301, version: 0x0303, ticket: null, pskIdentity: null } });
    for (let n = 0; n < hello.length; n++) expect(parseClientHello(hello.subarray(0, n)).kind).toBe('incomplete');
  });
});

describe('parseClientHello (fuzz)', () => {
  it('never throws on random bytes, nor on a real hello with bytes changed', async () => {
    const hello = await captureClientHello({ servername: 'fuzz.test', ALPNProtocols: ['h2', 'http/1.1'] });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        parseClientHello(Buffer.concat([Buffer.from([0x16, 3, 1]), Buffer.from(bytes)]));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const b = Buffer.from(hello);
        for (const [at, v] of edits) b[at % b.length] = v;
        const r = parseClientHello(b);
        if (r.kind === 'ok' && r.hello.serverName !== null) expect(r.hello.serverName).toMatch(/^[a-z0-9._-]+$/);
      }),
      { numRuns: 2000 },
    );
  });
});

