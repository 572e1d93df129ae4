import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
  PP2_TYPE_AUTHORITY,
  PROXY_V2_SIGNATURE,
} from '../../src/wire/proxy-protocol.js';
import { ipToBytes, unmap } from '../../src/wire/ip.js';

const v4 = { sourceAddress: '192.0.2.10', sourcePort: 51234, destinationAddress: '198.51.100.1', destinationPort: 443 };
const v6 = { sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::1', destinationPort: 65535 };

/** 16-byte hex of an address, IPv4 written as IPv4-mapped, so both header families compare equal. */
function canon(ip: string): string {
  const b = ipToBytes(unmap(ip));
  return b.length === 4 ? `00000000000000000000ffff${b.toString('hex')}` : b.toString('hex');
}

function ok(buf: Buffer) {
  const r = decodeProxyHeader(buf);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}

describe('PROXY protocol v1', () => {
  it('encodes the spec text for TCP4 and TCP6', () => {
    expect(encodeProxyV1(v4).toString()).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n');
    expect(encodeProxyV1(v6).toString()).toBe('PROXY TCP6 2001:db8::1 ::1 1 65535\r\n');
  });

  it('writes IPv4-mapped addresses of a dual-stack listener as TCP4', () => {
    const h = encodeProxyV1({ ...v4, sourceAddress: '::ffff:10.1.2.3', destinationAddress: '::FFFF:127.0.0.1' });
    expect(h.toString()).toBe('PROXY TCP4 10.1.2.3 127.0.0.1 51234 443\r\n');
  });

  it('writes UNKNOWN for non-IP endpoints', () => {
    expect(encodeProxyV1({ ...v4, sourceAddress: '' }).toString()).toBe('PROXY UNKNOWN\r\n');
  });

  it('round-trips and reports the payload offset', () => {
    const header = encodeProxyV1(v4);
    const r = ok(Buffer.concat([header, Buffer.from('hello')]));
    expect(r.length).toBe(header.length);
    expect(r.header).toMatchObject({ version: 1, family: 'tcp4', ...v4 });
    expect(ok(encodeProxyV1(v6)).header).toMatchObject({ family: 'tcp6', ...v6 });
  });

  it('is incomplete on every strict prefix', () => {
    const header = encodeProxyV1(v6);
    for (let n = 0; n < header.length; n++) expect(decodeProxyHeader(header.subarray(0, n)).kind).toBe('incomplete');
  });

  it('accepts UNKNOWN with trailing garbage (the spec says ignore it)', () => {
    expect(ok(Buffer.from('PROXY UNKNOWN ff ff 1 2\r\nX')).header.family).toBe('unknown');
  });

  it.each([
    ['GET / HTTP/1.1\r\n'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['PROXY TCP4 1.2.3.4 ::1 1 2\r\n'],
    ['PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'],
    ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['PROXX TCP4'],
  ])('rejects %j', (text) => {
    expect(decodeProxyHeader(Buffer.from(text)).kind).toBe('invalid');
  });

  it('rejects a line longer than 107 bytes without waiting for more', () => {
    expect(decodeProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)).kind).toBe('invalid');
  });
});

describe('PROXY protocol v2', () => {
  it('encodes the documented layout for TCP4', () => {
    const b = encodeProxyV2(v4);
    expect(b.subarray(0, 12).equals(PROXY_V2_SIGNATURE)).toBe(true);
    expect(b[12]).toBe(0x21); // version 2, PROXY
    expect(b[13]).toBe(0x11); // AF_INET, STREAM
    expect(b.readUInt16BE(14)).toBe(12);
    expect([...b.subarray(16, 20)]).toEqual([192, 0, 2, 10]);
    expect(b.readUInt16BE(24)).toBe(51234);
    expect(b.readUInt16BE(26)).toBe(443);
  });

  it('says DGRAM in the transport nibble for a UDP session (AF_INET 0x12, AF_INET6 0x22)', () => {
    expect(encodeProxyV2(v4, [], true)[13]).toBe(0x12);
    expect(encodeProxyV2(v6, [], true)[13]).toBe(0x22);
    expect(encodeProxyV2(v6)[13]).toBe(0x21);
  });

  it('round-trips v4 and v6 with an AUTHORITY TLV', () => {
    const tlv = [{ type: PP2_TYPE_AUTHORITY, value: Buffer.from('a.test') }];
    const r4 = ok(Buffer.concat([encodeProxyV2(v4, tlv), Buffer.from([0x16, 3, 1])]));
    expect(r4.header).toMatchObject({ version: 2, command: 'proxy', family: 'tcp4', ...v4, authority: 'a.test' });
    expect(r4.length).toBe(16 + 12 + 3 + 6);
    expect(ok(encodeProxyV2(v6, tlv)).header).toMatchObject({ family: 'tcp6', ...v6, authority: 'a.test' });
  });

  it('round-trips arbitrary addresses (property)', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.ipV6(), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (s, d, sp, dp) => {
        const e = { sourceAddress: s, destinationAddress: d, sourcePort: sp, destinationPort: dp };
        const h = ok(encodeProxyV2(e)).header;
        expect(canon(h.sourceAddress)).toBe(canon(s));
        expect(canon(h.destinationAddress)).toBe(canon(d));
        expect([h.sourcePort, h.destinationPort]).toEqual([sp, dp]);
        const h1 = ok(encodeProxyV1(e)).header;
        expect([h1.sourcePort, h1.destinationPort]).toEqual([sp, dp]);
      }),
    );
  });

  it('is incomplete on every strict prefix', () => {
    const b = encodeProxyV2(v6, [{ type: 0xe0, value: Buffer.alloc(20, 1) }]);
    for (let n = 0; n < b.length; n++) expect(decodeProxyHeader(b.subarray(0, n)).kind).toBe('incomplete');
  });

  it('decodes LOCAL as a header without addresses', () => {
    const b = encodeProxyV2({ ...v4, sourceAddress: 'unix' });
    expect(b[12]).toBe(0x20);
    expect(ok(b).header).toMatchObject({ command: 'local', family: 'unknown' });
  });

  it('rejects a bad version, command, family, short address block and broken TLVs', () => {
    const good = encodeProxyV2(v4);
    const mutate = (at: number, value: number) => {
      const b = Buffer.from(good);
      b[at] = value;
      return b;
    };
    expect(decodeProxyHeader(mutate(12, 0x11)).kind).toBe('invalid');
    expect(decodeProxyHeader(mutate(12, 0x22)).kind).toBe('invalid');
    expect(decodeProxyHeader(mutate(13, 0x41)).kind).toBe('invalid');
    expect(decodeProxyHeader(mutate(15, 4)).kind).toBe('invalid'); // 4 bytes cannot hold INET addresses
    expect(decodeProxyHeader(mutate(3, 0)).kind).toBe('invalid'); // broken signature
    const badTlv = Buffer.concat([good, Buffer.from([0x02, 0x00, 0x09, 0x61])]);
    badTlv.writeUInt16BE(12 + 4, 14);
    expect(decodeProxyHeader(badTlv).kind).toBe('invalid');
  });
});

describe('decodeProxyHeader (fuzz)', () => {
  it('never throws: random bytes after either signature give a header, "incomplete" or "invalid"', () => {
    fc.assert(
      fc.property(fc.constantFrom('', 'PROXY ', 'PROXY TCP4 ', PROXY_V2_SIGNATURE.toString('latin1')), fc.uint8Array({ maxLength: 200 }), (prefix, bytes) => {
        const r = decodeProxyHeader(Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.from(bytes)]));
        expect(['ok', 'incomplete', 'invalid']).toContain(r.kind);
        if (r.kind === 'ok') expect(r.length).toBeLessThanOrEqual(prefix.length + bytes.length);
      }),
      { numRuns: 2000 },
    );
  });
});

