/**
 * Reads and checks the files the ssl_* / proxy_ssl_* directives name, after the tree is built and
 * before it is hashed: every PEM's content goes into the tree (`PemFile.pem`), so a changed
 * certificate changes the hash (a reload picks it up), workers get exactly what was checked, and
 * `tsproxy -t` fails on a missing file, bad PEM, wrong passphrase or a key that does not match its
 * certificate, naming the file and the directive's position.
 *
 * Each distinct file is read once and each distinct (certificate, key, password file) is checked
 * once: 10,000 servers sharing one certificate cost one check.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { NotReadAfterStartError, type FileReads } from './file-reads.js';
import type {
  CertificateConfig, HttpConfig, ListenConfig, LocationConfig, PemFile, ProxySslConfig, SslConfig, StreamConfig, TicketKeyFile,
} from './types.js';

/**
 * node:tls and node:crypto on first use: a config without certificates never loads them (~10 ms
 * of every `-t` and start).
 */
const tls = (): typeof import('node:tls') => process.getBuiltinModule('node:tls');
const createPrivateKey: typeof import('node:crypto').createPrivateKey = (key) => process.getBuiltinModule('node:crypto').createPrivateKey(key);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface TlsFilesResult {
  readonly errors: ConfigError[];
  /** Every regular file read, for the reload watcher. */
  readonly files: string[];
}

/** Fills `pem` (and `passphrase`) in place in a freshly built (not yet frozen) tree. */
export function loadTlsFiles(http: HttpConfig | null, stream: StreamConfig | null, reads: FileReads): TlsFilesResult {
  const loader = new TlsFileLoader(reads);
  if (http !== null) {
    for (const s of http.servers) {
      loader.ssl(s.ssl);
      loader.locations(s.locations);
    }
    checkSslListens(http.servers, loader.errors);
  }
  if (stream !== null) {
    for (const s of stream.servers) {
      loader.ssl(s.ssl);
      if (s.proxySsl !== undefined) loader.proxySsl(s.proxySsl);
    }
    checkSslListens(stream.servers, loader.errors);
  }
  return { errors: loader.errors, files: [...loader.contents.keys()].filter((f) => !reads.special(f)) };
}

/**
 * nginx: listen options belong to the address, so `ssl` on any server's listen makes the whole
 * address TLS; the address's default server must have a certificate (others without one use it).
 */
function checkSslListens(servers: readonly { listens: readonly ListenConfig[]; ssl: SslConfig }[], errors: ConfigError[]): void {
  const byKey = new Map<string, { ssl: ListenConfig | null; first: { listen: ListenConfig; ssl: SslConfig } | null; explicit: { listen: ListenConfig; ssl: SslConfig } | null }>();
  for (const s of servers) {
    for (const l of s.listens) {
      let e = byKey.get(l.key);
      if (e === undefined) byKey.set(l.key, (e = { ssl: null, first: null, explicit: null }));
      if (l.ssl && e.ssl === null) e.ssl = l;
      e.first ??= { listen: l, ssl: s.ssl };
      if (l.defaultServer && e.explicit === null) e.explicit = { listen: l, ssl: s.ssl };
    }
  }
  for (const e of byKey.values()) {
    if (e.ssl === null) continue;
    const def = e.explicit ?? e.first!;
    // nginx: a default server that refuses every handshake needs no certificate.
    if (def.ssl.certificates.length === 0 && !def.ssl.rejectHandshake) {
      errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', 'no "ssl_certificate" is defined for the "listen ... ssl" directive', def.listen.loc));
    }
  }
}

class TlsFileLoader {
  readonly errors: ConfigError[] = [];
  /** Content by absolute path; null when it could not be read (reported once). */
  readonly contents = new Map<string, string | null>();
  readonly #checked = new Map<string, string | null | undefined>();
  readonly #seenSsl = new Set<object>();
  readonly #reads: FileReads;
  /** Ticket key files by path (null: reported). */
  readonly #keys = new Map<string, Buffer | null>();

  constructor(reads: FileReads) {
    this.#reads = reads;
  }

  ssl(ssl: SslConfig): void {
    if (this.#seenSsl.has(ssl)) return;
    this.#seenSsl.add(ssl);
    const passwords = this.#passwords(ssl.passwordFile);
    for (const c of ssl.certificates) this.#certificate(c, passwords, 'ssl_certificate');
    for (const ca of [ssl.clientCertificate, ssl.trustedCertificate]) if (ca !== null) this.#ca(ca);
    for (const k of ssl.sessionTicketKeys) this.#ticketKey(k);
    if (ssl.dhparam !== null && this.#fill(ssl.dhparam, 'DH parameters')) {
      this.#try(ssl.dhparam, 'DH parameters', () => tls().createSecureContext({ dhparam: ssl.dhparam!.pem }));
    }
  }

  /** proxy_ssl_* files matter only where a location proxies to https:// (or a stream server has proxy_ssl on): read and check them there. */
  proxySsl(p: ProxySslConfig): void {
    if (this.#seenSsl.has(p)) return;
    this.#seenSsl.add(p);
    if (p.trustedCertificate !== null) this.#ca(p.trustedCertificate);
    const { cert, key } = p.certificate;
    if (cert === null) return;
    if (key === null) {
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `no "proxy_ssl_certificate_key" is defined for certificate "${cert.file}"`, cert.loc));
      return;
    }
    this.#certificate(p.certificate as CertificateConfig, this.#passwords(p.passwordFile), 'proxy_ssl_certificate');
  }

  locations(locations: readonly LocationConfig[]): void {
    for (const l of locations) {
      const h = l.handler;
      if ((h.kind === 'proxy' || h.kind === 'websocket') && h.target.scheme === 'https') this.proxySsl(l.settings.proxySsl);
      this.locations(l.locations);
    }
  }

  /** Reads a file into `pem`; false (reported) when it cannot be read. */
  #fill(f: PemFile, what: string): boolean {
    let text = this.contents.get(f.file);
    if (text === undefined) {
      try {
        text = this.#reads.text(f.file, (p) => readFileSync(p, 'utf8'));
      } catch (e) {
        text = null;
        this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `cannot load ${what} "${f.file}": ${ioReason(e)}`, f.loc));
      }
      this.contents.set(f.file, text);
    }
    if (text === null) return false;
    (f as Mutable<PemFile>).pem = text;
    return true;
  }

  /**
   * An ssl_session_ticket_key file, as nginx reads it: 48 bytes (name, AES-128 key, HMAC key) or
   * 80 (name, HMAC key, AES-256 key). Stored in Node's 48-byte layout (name, HMAC, AES-128):
   * a 48-byte key then makes the same tickets as nginx; an 80-byte one uses the first 16 bytes
   * of each key (Node's tickets are AES-128).
   */
  #ticketKey(k: TicketKeyFile): void {
    let bytes = this.#keys.get(k.file);
    if (bytes === undefined) {
      try {
        bytes = Buffer.from(this.#reads.text(k.file, (p) => readFileSync(p).toString('latin1'))!, 'latin1');
      } catch (e) {
        bytes = null;
        this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `cannot load session ticket key "${k.file}": ${ioReason(e)}`, k.loc));
      }
      if (bytes !== null && bytes.length !== 48 && bytes.length !== 80) {
        this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `"${k.file}" must be 48 or 80 bytes`, k.loc));
        bytes = null;
      }
      this.#keys.set(k.file, bytes);
      if (bytes !== null) this.contents.set(k.file, '');
    }
    if (bytes === null) return;
    const node = bytes.length === 48
      ? Buffer.concat([bytes.subarray(0, 16), bytes.subarray(32, 48), bytes.subarray(16, 32)])
      : Buffer.concat([bytes.subarray(0, 16), bytes.subarray(16, 32), bytes.subarray(48, 64)]);
    (k as Mutable<TicketKeyFile>).key = node.toString('base64');
  }

  #passwords(f: PemFile | null): readonly string[] | null {
    if (f === null || !this.#fill(f, 'password file')) return null;
    return f.pem.split(/\r?\n/).filter((l) => l !== '');
  }

  #ca(f: PemFile): void {
    if (this.#fill(f, 'CA certificates')) this.#try(f, 'CA certificates', () => tls().createSecureContext({ ca: f.pem }));
  }

  #certificate(c: CertificateConfig, passwords: readonly string[] | null, directive: string): void {
    const certOk = this.#fill(c.cert, 'certificate');
    const keyOk = this.#fill(c.key, 'certificate key');
    if (!certOk || !keyOk) return;
    const id = `${c.cert.file}\0${c.key.file}\0${passwords?.join('\0') ?? ''}`;
    if (this.#checked.has(id)) {
      const known = this.#checked.get(id);
      if (known !== undefined) (c as Mutable<CertificateConfig>).passphrase = known;
      return;
    }
    this.#checked.set(id, undefined);
    const passphrase = this.#passphrase(c.key, passwords);
    if (passphrase === undefined) return;
    const ok = this.#try(c.cert, 'certificate', () => tls().createSecureContext({ cert: c.cert.pem }));
    if (!ok) return;
    try {
      tls().createSecureContext({ cert: c.cert.pem, key: c.key.pem, ...(passphrase !== null ? { passphrase } : {}) });
    } catch (e) {
      const reason = tlsReason(e);
      const msg = /mismatch/i.test(reason)
        ? `the key "${c.key.file}" does not match the certificate "${c.cert.file}" (${directive})`
        : `cannot use certificate "${c.cert.file}" with key "${c.key.file}": ${reason}`;
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', msg, c.key.loc));
      return;
    }
    this.#checked.set(id, passphrase);
    (c as Mutable<CertificateConfig>).passphrase = passphrase;
  }

  /** The passphrase that opens the key (null: not encrypted); undefined after reporting failure. */
  #passphrase(key: PemFile, passwords: readonly string[] | null): string | null | undefined {
    try {
      createPrivateKey({ key: key.pem, passphrase: '' });
      return null;
    } catch (e) {
      const reason = tlsReason(e);
      const encrypted = /ENCRYPTED/.test(key.pem) || /passphrase|decrypt/i.test(reason);
      if (!encrypted) {
        this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `cannot load certificate key "${key.file}": ${reason}`, key.loc));
        return undefined;
      }
    }
    for (const p of passwords ?? []) {
      try {
        createPrivateKey({ key: key.pem, passphrase: p });
        return p;
      } catch {
        // try the next one
      }
    }
    const why = passwords === null ? 'the key is encrypted and no "ssl_password_file" is given' : 'no passphrase of the password file decrypts it';
    this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `cannot load certificate key "${key.file}": ${why}`, key.loc));
    return undefined;
  }

  #try(f: PemFile, what: string, check: () => unknown): boolean {
    try {
      check();
      return true;
    } catch (e) {
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_TLS', `cannot load ${what} "${f.file}": ${tlsReason(e)}`, f.loc));
      return false;
    }
  }
}

function ioReason(e: unknown): string {
  if (e instanceof NotReadAfterStartError) return e.message;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (e as Error).message;
}

/** OpenSSL's reason without the "error:0480006C:PEM routines::" noise. */
export function tlsReason(e: unknown): string {
  const m = (e as Error).message ?? String(e);
  const tail = /error:[0-9A-F]+:[^:]*:[^:]*:(.+)$/.exec(m);
  return (tail?.[1] ?? m).trim();
}
