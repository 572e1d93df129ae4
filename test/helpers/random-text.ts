/** Deterministic "random bytes" (xorshift32), decoded as UTF-8 the way a config file is read. */
export function randomText(bytes: number, seed = 12345): string {
  const buf = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf.toString('utf8');
}
