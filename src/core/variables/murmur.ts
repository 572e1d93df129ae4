/**
 * MurmurHash2 (32-bit, seed 0) exactly as nginx's ngx_murmur_hash2 computes it over a string's
 * bytes, so split_clients puts a key in the same bucket as nginx does.
 */

const M = 0x5bd1e995;

/**
 * The hash of a value's bytes: a value of Latin-1 characters (what heads and most variables
 * hold) byte for byte, read straight from the string (nothing allocated per request); one with a
 * character above U+00FF (decoded UTF-8) as its UTF-8 bytes.
 */
export function murmurHash2(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) return hashBytes(Buffer.from(value, 'utf8'), (b, j) => b[j]!);
  }
  return hashBytes(value, (s, j) => s.charCodeAt(j));
}

function hashBytes<T extends { readonly length: number }>(data: T, at: (data: T, i: number) => number): number {
  let len = data.length;
  let h = len >>> 0;
  let i = 0;
  while (len >= 4) {
    let k = at(data, i) | (at(data, i + 1) << 8) | (at(data, i + 2) << 16) | (at(data, i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
    i += 4;
    len -= 4;
  }
  // the last 1-3 bytes (nginx's switch falls through from 3 down to 1)
  if (len === 3) h ^= at(data, i + 2) << 16;
  if (len >= 2) h ^= at(data, i + 1) << 8;
  if (len >= 1) h = Math.imul(h ^ at(data, i), M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
