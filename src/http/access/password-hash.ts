/**
 * Password checks of htpasswd entries (auth_basic_user_file), the schemes nginx accepts: its own
 * `$apr1$` (Apache's MD5), `{PLAIN}`, `{SHA}`, `{SSHA}`, and what glibc's crypt() gives it on
 * Debian: `$1$` MD5-crypt, `$5$` / `$6$` SHA-crypt (with `rounds=`), bcrypt `$2a$`/`$2b$`/`$2y$`.
 * Traditional DES crypt() hashes are not supported (they always mismatch).
 *
 * MD5-crypt and SHA-crypt are written here from their specifications (PHK's md5crypt, Drepper's
 * "Unix crypt using SHA-256 and SHA-512"); bcrypt is the bcryptjs library, asynchronous so a
 * cost-12 check (~250 ms in JS) does not stop the event loop. The slow schemes remember the
 * digests of recent successes (never the password), so a client sending the same credentials
 * on every request pays once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function to64(v: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return out;
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  return to64((b2 << 16) | (b1 << 8) | b0, n);
}

/** PHK's MD5-crypt: `$1$salt$hash`, or Apache's `$apr1$salt$hash` (the same with another magic). */
export function md5Crypt(password: Buffer, magic: '$1$' | '$apr1$', saltText: string): string {
  const salt = Buffer.from(saltText.slice(0, 8), 'latin1');
  const alt = createHash('md5').update(password).update(salt).update(password).digest();
  const ctx = createHash('md5').update(password).update(magic, 'latin1').update(salt);
  for (let i = password.length; i > 0; i -= 16) ctx.update(alt.subarray(0, Math.min(16, i)));
  const zero = Buffer.alloc(1);
  for (let i = password.length; i > 0; i >>= 1) ctx.update((i & 1) !== 0 ? zero : password.subarray(0, 1));
  let f = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = createHash('md5');
    c.update((i & 1) !== 0 ? password : f);
    if (i % 3 !== 0) c.update(salt);
    if (i % 7 !== 0) c.update(password);
    c.update((i & 1) !== 0 ? f : password);
    f = c.digest();
  }
  const out = b64From24(f[0]!, f[6]!, f[12]!, 4) + b64From24(f[1]!, f[7]!, f[13]!, 4) + b64From24(f[2]!, f[8]!, f[14]!, 4)
    + b64From24(f[3]!, f[9]!, f[15]!, 4) + b64From24(f[4]!, f[10]!, f[5]!, 4) + to64(f[11]!, 2);
  return `${magic}${salt.toString('latin1')}$${out}`;
}

const SHA256_ORDER: readonly (readonly [number, number, number])[] = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29],
];
const SHA512_ORDER: readonly (readonly [number, number, number])[] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51],
  [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60],
  [40, 61, 19], [62, 20, 41],
];

/** `count` bytes of `block` repeated (Drepper's P and S sequences). */
function repeatTo(block: Buffer, count: number): Buffer {
  const out = Buffer.alloc(count);
  for (let at = 0; at < count; at += block.length) block.copy(out, at, 0, Math.min(block.length, count - at));
  return out;
}

/** Drepper's SHA-crypt: `$5$` (SHA-256) or `$6$` (SHA-512), `setting` = what follows the magic. Null: a malformed setting. */
export function shaCrypt(password: Buffer, magic: '$5$' | '$6$', setting: string): string | null {
  const algo = magic === '$5$' ? 'sha256' : 'sha512';
  const size = magic === '$5$' ? 32 : 64;
  let rest = setting;
  let rounds = 5000;
  let custom = false;
  const m = /^rounds=(\d+)\$/.exec(rest);
  if (m !== null) {
    rounds = Math.min(999_999_999, Math.max(1000, Number(m[1])));
    custom = true;
    rest = rest.slice(m[0].length);
  }
  const end = rest.indexOf('$');
  const salt = Buffer.from((end === -1 ? rest : rest.slice(0, end)).slice(0, 16), 'latin1');
  const b = createHash(algo).update(password).update(salt).update(password).digest();
  const a = createHash(algo).update(password).update(salt);
  let cnt = password.length;
  for (; cnt > size; cnt -= size) a.update(b);
  a.update(b.subarray(0, cnt));
  for (cnt = password.length; cnt > 0; cnt >>= 1) a.update((cnt & 1) !== 0 ? b : password);
  let prev = a.digest();
  const dp = createHash(algo);
  for (let i = 0; i < password.length; i++) dp.update(password);
  const p = repeatTo(dp.digest(), password.length);
  const ds = createHash(algo);
  for (let i = 0; i < 16 + prev[0]!; i++) ds.update(salt);
  const s = repeatTo(ds.digest(), salt.length);
  for (let i = 0; i < rounds; i++) {
    const c = createHash(algo);
    c.update((i & 1) !== 0 ? p : prev);
    if (i % 3 !== 0) c.update(s);
    if (i % 7 !== 0) c.update(p);
    c.update((i & 1) !== 0 ? prev : p);
    prev = c.digest();
  }
  let out = '';
  for (const [x, y, z] of magic === '$5$' ? SHA256_ORDER : SHA512_ORDER) out += b64From24(prev[x]!, prev[y]!, prev[z]!, 4);
  out += magic === '$5$' ? b64From24(0, prev[31]!, prev[30]!, 3) : b64From24(0, 0, prev[63]!, 2);
  return `${magic}${custom ? `rounds=${rounds}$` : ''}${salt.toString('latin1')}$${out}`;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Digests of recent successful checks of slow schemes: sha256(hash NUL password). */
const recentSuccesses = new Set<string>();
const MAX_REMEMBERED = 4096;

function successKey(hash: string, password: Buffer): string {
  return createHash('sha256').update(hash, 'latin1').update('\0').update(password).digest('base64');
}

function remember(key: string, ok: boolean): boolean {
  if (ok) {
    if (recentSuccesses.size >= MAX_REMEMBERED) recentSuccesses.clear();
    recentSuccesses.add(key);
  }
  return ok;
}

/**
 * Whether `password` (the bytes the client sent) matches the htpasswd `hash`: a boolean, or a
 * promise of one for bcrypt.
 */
export function checkPassword(hash: string, password: Buffer): boolean | Promise<boolean> {
  if (hash.startsWith('{PLAIN}')) return sameText(hash.slice(7), password.toString('latin1'));
  if (hash.startsWith('{SHA}')) return sameText(hash.slice(5), createHash('sha1').update(password).digest('base64'));
  if (hash.startsWith('{SSHA}')) {
    const raw = Buffer.from(hash.slice(6), 'base64');
    if (raw.length < 20) return false;
    const digest = createHash('sha1').update(password).update(raw.subarray(20)).digest();
    return timingSafeEqual(digest, raw.subarray(0, 20));
  }
  if (!hash.startsWith('$')) return false;
  const key = successKey(hash, password);
  if (recentSuccesses.has(key)) return true;
  if (hash.startsWith('$apr1$')) return remember(key, sameText(md5Crypt(password, '$apr1$', hash.slice(6).split('$')[0]!), hash));
  if (hash.startsWith('$1$')) return remember(key, sameText(md5Crypt(password, '$1$', hash.slice(3).split('$')[0]!), hash));
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) {
    const computed = shaCrypt(password, hash.startsWith('$5$') ? '$5$' : '$6$', hash.slice(3));
    return remember(key, computed !== null && sameText(computed, hash));
  }
  if (/^\$2[aby]\$\d\d\$/.test(hash)) {
    // bcryptjs knows $2a$ and $2b$; $2y$ is the same algorithm under PHP's name.
    const normalized = hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash;
    return bcrypt.compare(password.toString('utf8'), normalized).then((ok) => remember(key, ok), () => false);
  }
  return false;
}
