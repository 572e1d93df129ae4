/**
 * The piece codec (config/pieces.ts): what a reload's load thread and the primary send a serving
 * thread. The decoded Config must be the loaded one: equal in every field, and with the same
 * object identity (a settings object shared by many locations stays one object: plan caches key
 * on it, and copies would multiply the heap).
 */
import path from 'node:path';
import v8 from 'node:v8';
import { describe, expect, test } from 'vitest';
import { bigConfigText } from '../../bench/gen-config.js';
import { loadConfig, loadConfigFile } from '../../src/config/load.js';
import { decodeInPieces, encodeInPieces } from '../../src/config/pieces.js';
import type { Config } from '../../src/config/types.js';
import { ROOT } from '../helpers/cli.js';

/**
 * Walk both trees side by side: same shape, and an object shared in `a` is shared the same way in
 * `b` (the map from a's objects to b's is one-to-one). Returns how many distinct objects `a` has.
 */
function sameIdentity(a: unknown, b: unknown): number {
  const pairs = new Map<object, object>();
  const taken = new Set<object>();
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    expect(y).not.toBe(x);
    const known = pairs.get(x);
    if (known !== undefined) {
      if (known !== y) throw new Error('an object shared in the loaded config is two objects after decoding');
      continue;
    }
    if (taken.has(y as object)) throw new Error('two objects of the loaded config are one after decoding');
    pairs.set(x, y as object);
    taken.add(y as object);
    if (x instanceof Map) {
      const ys = [...(y as Map<unknown, unknown>).values()];
      [...x.values()].forEach((v, i) => stack.push([v, ys[i]]));
    } else if (!ArrayBuffer.isView(x) && !(x instanceof RegExp)) {
      for (const k of Object.keys(x)) stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]]);
    }
  }
  return pairs.size;
}

function big(servers: number): Config {
  const text = bigConfigText({ servers, regexEvery: 10, listen: '127.0.0.1:8080', target: { index: 7, backendPort: 9, generation: 3 } });
  const r = loadConfig(text, '/etc/tsproxy/big.conf');
  if (r.config === null) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

describe('piece codec', () => {
  test("gen-config's big config (300 servers): decoded deep-equal to the load, identity kept, in many pieces", async () => {
    const config = big(300);
    const bytes = encodeInPieces(config);
    const decoded = await decodeInPieces<Config>(bytes);
    expect(decoded).toStrictEqual(config);
    const objects = sameIdentity(config, decoded);
    expect(objects).toBeGreaterThan(10_000);
    // Shared settings objects: fewer distinct ones than locations, and as many after decoding.
    const settings = (c: Config) => new Set(c.http!.servers.flatMap((s) => s.locations.map((l) => l.settings)));
    expect(settings(decoded).size).toBe(settings(config).size);
    expect(settings(config).size).toBeLessThan(config.http!.servers.flatMap((s) => s.locations).length);
    // The byte string holds many pieces: the uint32 after the header is their count.
    const reader = new v8.Deserializer(bytes);
    reader.readHeader();
    expect(reader.readUint32()).toBeGreaterThan(100);
  });

  test.each(['conf/tsproxy.conf', 'examples/explain-shop.conf'])('the example config %s decodes deep-equal to its load', async (file) => {
    const r = loadConfigFile(path.join(ROOT, file));
    expect(r.errors).toEqual([]);
    const decoded = await decodeInPieces<Config>(encodeInPieces(r.config!));
    expect(decoded).toStrictEqual(r.config);
    sameIdentity(r.config, decoded);
  });

  test('the decoder yields to the event loop between slices', async () => {
    const bytes = encodeInPieces(big(100));
    let turns = 0;
    let decoding = true;
    const tick = (): void => {
      turns++;
      if (decoding) setImmediate(tick);
    };
    setImmediate(tick);
    await decodeInPieces<Config>(bytes, 0);
    decoding = false;
    expect(turns).toBeGreaterThan(10);
  });

  test('typed arrays and buffers come back as copies of their own, not views of the transfer buffer', async () => {
    const cert = Buffer.from('-----BEGIN CERTIFICATE-----');
    const bytes = encodeInPieces({ cert, list: [new Uint8Array([1, 2, 3])] });
    const decoded = await decodeInPieces<{ cert: Buffer; list: Uint8Array[] }>(bytes);
    expect(Buffer.isBuffer(decoded.cert)).toBe(true);
    expect(decoded.cert.equals(cert)).toBe(true);
    expect(decoded.cert.buffer).not.toBe(bytes.buffer);
    expect(decoded.cert.byteLength).toBe(cert.byteLength);
    expect([...decoded.list[0]!]).toEqual([1, 2, 3]);
    expect(decoded.list[0]!.buffer).not.toBe(bytes.buffer);
  });
});
