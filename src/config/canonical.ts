/**
 * Canonical texts of a built config: its hash (load.ts: an unchanged reload is recognised by it)
 * and the per-server / per-upstream texts a reload's diff compares (runtime/diff.ts).
 */
/** node:crypto on first use: `-t` never hashes, and loading it cost ~5 ms of every `-t`. */
const createHash = (algorithm: string): import('node:crypto').Hash => process.getBuiltinModule('node:crypto').createHash(algorithm);
import type { LoadedFields } from './build.js';
import type { Config } from './types.js';

type Tree = Omit<Config, LoadedFields> & Partial<Pick<Config, LoadedFields>>;

/**
 * A digest (sha1, base64) of the canonical text of each server and upstream (canonicalTexts), per
 * list in config order. The reload's diff and splice compare them (runtime/diff.ts), and the
 * config's hash is made of them, so a load computes them once for both.
 */
export interface ItemDigests {
  readonly httpServers: readonly string[];
  readonly httpUpstreams: readonly string[];
  readonly tcpServers: readonly string[];
  readonly tcpUpstreams: readonly string[];
}

const itemDigestsOf = new WeakMap<object, ItemDigests>();

/** The item digests of `tree` (computed once per tree object; a Config made from a tree by spreading it is given them by load.ts). */
export function itemDigests(tree: Tree): ItemDigests {
  let d = itemDigestsOf.get(tree);
  if (d !== undefined) return d;
  const of = (list: readonly unknown[] | undefined): string[] => (list === undefined || list.length === 0 ? [] : canonicalTexts(list).map((t) => createHash('sha1').update(t).digest('base64')));
  d = { httpServers: of(tree.http?.servers), httpUpstreams: of(tree.http?.upstreams), tcpServers: of(tree.stream?.servers), tcpUpstreams: of(tree.stream?.upstreams) };
  itemDigestsOf.set(tree, d);
  return d;
}

/** `config` has the item digests of the tree it was made from. */
export function rememberItemDigests(config: object, digests: ItemDigests): void {
  itemDigestsOf.set(config, digests);
}

/**
 * sha256 of a canonical text of the tree: its JSON (key order as build.ts constructs every
 * object) without `loc`, `files`, `includeGlobs` and `hash`, with each server and upstream as its
 * item digest (itemDigests: equal digests are equal content), written in one pass straight into
 * the hash. Each distinct `settings` content is written once, later ones as `#n` (n-th distinct
 * content): with many locations sharing a handful of settings objects, that keeps the text (and
 * the time) proportional to what differs. Equal content gives equal text, so an unchanged reload
 * matches.
 */
export function hashConfig(tree: Tree): string {
  const { files: _files, includeGlobs: _globs, hash: _hash, ...rest } = tree;
  const d = itemDigests(tree);
  const http = rest.http === null ? null : { ...rest.http, servers: d.httpServers, upstreams: d.httpUpstreams };
  const stream = rest.stream === null ? null : { ...rest.stream, servers: d.tcpServers, upstreams: d.tcpUpstreams };
  return new CanonicalHash().digest({ ...rest, http, stream });
}

const FLUSH_AT = 1 << 16;

/**
 * The canonical text of each item (servers, upstreams), comparable between two loads: as
 * hashConfig's text, but a `settings` object is referred to by a digest of its content (ordinal
 * refs would shift when an earlier item changes), so an item's text is small and an unchanged
 * item gives the same text in both configs. For the reload's diff (runtime/diff.ts): one
 * JSON.stringify per server cost ~130 µs with the shared settings written out in full each time.
 */
export function canonicalTexts(items: readonly unknown[]): string[] {
  const writer = new CanonicalHash(true);
  return items.map((item) => writer.text(item));
}

class CanonicalHash {
  readonly #hash = createHash('sha256');
  /** Refer to a settings object by a digest of its text, not by its ordinal. */
  readonly #contentRefs: boolean;
  #buf = '';
  /** > 0 while a settings object is written into a side buffer (which must not be flushed). */
  #nested = 0;
  readonly #refByObject = new Map<object, string>();
  readonly #refByText = new Map<string, string>();
  /** Text of the object-valued fields of settings objects, by identity (shared between levels). */
  readonly #textByObject = new Map<object, string>();
  /** `"key":` per key name, quoted once. */
  readonly #keys = new Map<string, string>();

  constructor(contentRefs = false) {
    this.#contentRefs = contentRefs;
  }

  /** The canonical text of `v` alone (nothing is hashed; settings refs by content). */
  text(v: unknown): string {
    this.#nested++;
    this.#buf = '';
    this.#value(v);
    this.#nested--;
    const out = this.#buf;
    this.#buf = '';
    return out;
  }

  digest(v: unknown): string {
    this.#value(v);
    this.#hash.update(this.#buf);
    return this.#hash.digest('hex');
  }

  #value(v: unknown): void {
    if (typeof v === 'string') this.#buf += JSON.stringify(v);
    else if (typeof v === 'number') this.#buf += Number.isFinite(v) ? String(v) : 'null';
    else if (typeof v === 'boolean') this.#buf += v ? 'true' : 'false';
    else if (v === null || typeof v !== 'object') this.#buf += 'null';
    else if (Array.isArray(v)) this.#array(v);
    else this.#object(v as Record<string, unknown>);
  }

  #array(a: readonly unknown[]): void {
    this.#buf += '[';
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.#buf += ',';
      const x = a[i];
      if (x === undefined || typeof x === 'function') this.#buf += 'null';
      else this.#value(x);
    }
    this.#buf += ']';
    if (this.#nested === 0 && this.#buf.length > FLUSH_AT) this.#flush();
  }

  #object(o: Record<string, unknown>): void {
    let sep = '{';
    // Plain data objects (build.ts makes them): for-in sees exactly their own keys, in order.
    for (const k in o) {
      const x = o[k];
      if (k === 'loc' || x === undefined || typeof x === 'function') continue;
      let key = this.#keys.get(k);
      if (key === undefined) this.#keys.set(k, (key = `${JSON.stringify(k)}:`));
      this.#buf += sep + key;
      sep = ',';
      if (k === 'settings' && x !== null && typeof x === 'object') this.#shared(x);
      else this.#value(x);
    }
    this.#buf += sep === '{' ? '{}' : '}';
    if (this.#nested === 0 && this.#buf.length > FLUSH_AT) this.#flush();
  }

  #flush(): void {
    this.#hash.update(this.#buf);
    this.#buf = '';
  }

  #shared(o: object): void {
    const known = this.#refByObject.get(o);
    if (known !== undefined) {
      this.#buf += known;
      return;
    }
    // A location that sets one header has its own settings object, but every other field value
    // is its parent's (same identity): their text is memoised, so only the new value is written.
    const outer = this.#buf;
    this.#nested++;
    let text = '{';
    let sep = '';
    for (const [k, x] of Object.entries(o)) {
      if (k === 'loc' || x === undefined || typeof x === 'function') continue;
      let key = this.#keys.get(k);
      if (key === undefined) this.#keys.set(k, (key = `${JSON.stringify(k)}:`));
      let value: string | undefined;
      if (x !== null && typeof x === 'object') {
        value = this.#textByObject.get(x);
        if (value === undefined) {
          this.#buf = '';
          this.#value(x);
          this.#textByObject.set(x, (value = this.#buf));
        }
      } else {
        this.#buf = '';
        this.#value(x);
        value = this.#buf;
      }
      text += sep + key + value;
      sep = ',';
    }
    text += '}';
    this.#nested--;
    this.#buf = outer;
    let ref = this.#refByText.get(text);
    if (ref === undefined) {
      ref = this.#contentRefs ? `#${createHash('sha1').update(text).digest('base64')}` : `#${this.#refByText.size}`;
      this.#refByText.set(text, ref);
      // by content: every occurrence is the ref (which item shows a settings object first differs between loads)
      this.#buf += this.#contentRefs ? ref : text;
    } else {
      this.#buf += ref;
    }
    this.#refByObject.set(o, ref);
  }
}

