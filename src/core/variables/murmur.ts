/**
 * MurmurHash2 (32-bit, seed 0) exactly as nginx's ngx_murmur_hash2 computes it over a string's
 * bytes, so split_clients puts a key in the same bucket as nginx does.
 */

/** The bytes nginx hashes: a value of Latin-1 characters byte for byte, anything else as UTF-8. */
function bytesOf(s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return Buffer.from(s, 'utf8');
  return Buffer.from(s, 'latin1');
}

const M = 0x5bd1e995;

export function murmurHash2(value: string): number {
  const data = bytesOf(value);
  let len = data.length;
  let h = len >>> 0;
  let i = 0;
  while (len >= 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
    i += 4;
    len -= 4;
  }
  // the last 1-3 bytes (nginx's switch falls through from 3 down to 1)
  if (len === 3) h ^= data[i + 2]! << 16;
  if (len >= 2) h ^= data[i + 1]! << 8;
  if (len >= 1) h = Math.imul(h ^ data[i]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
