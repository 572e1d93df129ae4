/**
 * ssl_* (TLS termination, http and stream servers) and proxy_ssl_* (TLS to http upstreams).
 *
 * The directives only record paths and values; assembleSsl / assembleProxySsl turn a level's
 * merged settings into SslConfig / ProxySslConfig (paths resolved against the prefix, certificates
 * paired with keys by position as nginx does). File contents are read and checked afterwards by
 * src/config/tls-files.ts, once per distinct file.
 */
import tls from 'node:tls';
import type { Loc } from '../../errors.js';
import { tlsReason } from '../tls-files.js';
import type { CertificateConfig, PemFile, ProxySslConfig, SslConfig, TlsProtocol } from '../types.js';
import {
  count, err, flag, invalidValue, listSetting, noEffect, resolvePath, seconds, setting,
  type Context, type DirectiveSpec, type Reporter, type Settings, type SettingKind, type ValueParser,
} from './scope.js';

const HTTP_SSL: readonly Context[] = ['http', 'server'];
const STREAM_SSL: readonly Context[] = ['stream', 'stream_server'];
const LOC3: readonly Context[] = ['http', 'server', 'location'];

const PROTOCOLS: readonly TlsProtocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** A path as written; resolved against the prefix at assembly. */
interface PathArg {
  readonly path: string;
  readonly loc: Loc;
}

const pathArg: ValueParser<PathArg> = (args) => ({ path: args[0]!.value, loc: args[0]!.loc });

const protocols: ValueParser<TlsProtocol[]> = (args, d, r) => {
  const out: TlsProtocol[] = [];
  for (const a of args) {
    // nginx accepts SSLv2/SSLv3 and OpenSSL refuses them at run time; refuse them here, clearly.
    if (!(PROTOCOLS as readonly string[]).includes(a.value)) return invalidValue(r, a, d);
    if (!out.includes(a.value as TlsProtocol)) out.push(a.value as TlsProtocol);
  }
  return out;
};

const verifyClient: ValueParser<SslConfig['verifyClient']> = (args, d, r) => {
  const v = args[0]!.value;
  return v === 'on' || v === 'off' || v === 'optional' || v === 'optional_no_ca' ? v : invalidValue(r, args[0]!, d);
};

const word: ValueParser<string> = (args) => args[0]!.value;

/**
 * An OpenSSL list (ciphers, curves) checked against this Node's OpenSSL now, so `-t` and a reload
 * refuse a typo instead of the runtime failing to build its TLS contexts later.
 */
function opensslList(option: 'ciphers' | 'ecdhCurve'): ValueParser<string> {
  return (args, d, r) => {
    const v = args[0]!.value;
    if (option === 'ecdhCurve' && v === 'auto') return v;
    try {
      tls.createSecureContext({ [option]: v });
      return v;
    } catch (e) {
      return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${v}" in "${d.name}" directive: ${tlsReason(e)}`, args[0]!.loc);
    }
  };
}

const sessionTimeout: ValueParser<number> = (args, d, r) => seconds(args, d, r);

/** The ssl_* directives of one area (http servers or stream servers): same names, own settings kind. */
function sslDirectives(contexts: readonly Context[], kind: SettingKind): DirectiveSpec[] {
  const s = <V>(o: Omit<Parameters<typeof setting<V>>[0], 'kind' | 'contexts'>): DirectiveSpec => setting<V>({ contexts, kind, ...o });
  return [
    listSetting({
      name: 'ssl_certificate', contexts, kind, field: 'sslCertificates', parse: pathArg, args: [1, 1],
      syntax: 'ssl_certificate file;', summary: 'PEM certificate (chain) of the server; several for RSA + ECDSA.',
      note: 'Variables in the file name are not supported. Relative paths resolve against the prefix.',
    }),
    listSetting({
      name: 'ssl_certificate_key', contexts, kind, field: 'sslCertificateKeys', parse: pathArg, args: [1, 1],
      syntax: 'ssl_certificate_key file;', summary: 'PEM private key of the `ssl_certificate` at the same position.',
    }),
    s({ name: 'ssl_password_file', field: 'sslPasswordFile', parse: pathArg, initial: null, syntax: 'ssl_password_file file;', summary: 'Passphrases for encrypted keys, one per line, each tried in turn.' }),
    s({ name: 'ssl_protocols', field: 'sslProtocols', parse: protocols, args: [1, 4], default: 'TLSv1.2 TLSv1.3', syntax: 'ssl_protocols [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];', summary: 'Enabled TLS versions.', note: 'SSLv2/SSLv3 are refused.' }),
    s({ name: 'ssl_ciphers', field: 'sslCiphers', parse: opensslList('ciphers'), default: 'HIGH:!aNULL:!MD5', syntax: 'ssl_ciphers ciphers;', summary: 'OpenSSL cipher list for TLSv1.2 and below.' }),
    s({ name: 'ssl_prefer_server_ciphers', field: 'sslPreferServerCiphers', parse: flag, default: 'off', syntax: 'ssl_prefer_server_ciphers on | off;', summary: 'Prefer the server\'s cipher order.' }),
    s({ name: 'ssl_session_timeout', field: 'sslSessionTimeoutMs', parse: sessionTimeout, default: '5m', syntax: 'ssl_session_timeout time;', summary: 'How long a TLS session (ticket) may be resumed.' }),
    s({ name: 'ssl_session_tickets', field: 'sslSessionTickets', parse: flag, default: 'on', syntax: 'ssl_session_tickets on | off;', summary: 'Resume sessions with TLS session tickets.' }),
    s({ name: 'ssl_ecdh_curve', field: 'sslEcdhCurve', parse: opensslList('ecdhCurve'), default: 'auto', syntax: 'ssl_ecdh_curve curve[:curve...] | auto;', summary: 'Curves for ECDHE key exchange.' }),
    s({ name: 'ssl_dhparam', field: 'sslDhparam', parse: pathArg, initial: null, syntax: 'ssl_dhparam file;', summary: 'DH parameters for DHE ciphers.' }),
    s({ name: 'ssl_verify_client', field: 'sslVerifyClient', parse: verifyClient, default: 'off', syntax: 'ssl_verify_client on | off | optional | optional_no_ca;', summary: 'Request (optional) or require (on) a client certificate.' }),
    s({ name: 'ssl_verify_depth', field: 'sslVerifyDepth', parse: count, default: '1', syntax: 'ssl_verify_depth number;', summary: 'Longest client certificate chain.' }),
    s({ name: 'ssl_client_certificate', field: 'sslClientCertificate', parse: pathArg, initial: null, syntax: 'ssl_client_certificate file;', summary: 'CAs that client certificates are verified against (names sent to clients).' }),
    s({ name: 'ssl_trusted_certificate', field: 'sslTrustedCertificate', parse: pathArg, initial: null, syntax: 'ssl_trusted_certificate file;', summary: 'More CAs for client verification, not sent to clients.' }),
    noEffect('ssl_session_cache', contexts, [1, 2], 'Server-side session cache (tsproxy resumes sessions with tickets).', 'ssl_session_cache off | none | [builtin[:size]] [shared:name:size];'),
    noEffect('ssl_buffer_size', contexts, [1, 1], 'Size of the buffer for sending data.', 'ssl_buffer_size size;'),
    { ...noEffect('ssl_stapling', contexts, [1, 1], 'OCSP stapling (not supported).', 'ssl_stapling on | off;'), note: 'Not supported: accepted and ignored, so nginx configs load. OCSP responses are not stapled.' },
    { ...noEffect('ssl_stapling_verify', contexts, [1, 1], 'Verify OCSP responses (not supported).', 'ssl_stapling_verify on | off;'), note: 'Not supported: accepted and ignored.' },
    { ...noEffect('ssl_early_data', contexts, [1, 1], 'TLS 1.3 early data (not supported; always off).', 'ssl_early_data on | off;'), note: 'Not supported: early data is never accepted.' },
  ];
}

export const SSL_DIRECTIVES: readonly DirectiveSpec[] = [
  ...sslDirectives(HTTP_SSL, 'http'),
  ...sslDirectives(STREAM_SSL, 'stream'),
  setting({
    name: 'http2', contexts: HTTP_SSL, kind: 'http', field: 'http2', parse: flag, default: 'off', syntax: 'http2 on | off;',
    summary: 'Offer HTTP/2 (ALPN h2 on ssl listens, prior-knowledge h2c on plain ones).',
    note: 'The listen parameter `http2` does the same for every server on that address.',
  }),
  setting({ name: 'proxy_ssl_server_name', contexts: LOC3, kind: 'http', field: 'proxySslServerName', parse: flag, default: 'off', syntax: 'proxy_ssl_server_name on | off;', summary: 'Send SNI to `https://` upstreams.' }),
  setting({ name: 'proxy_ssl_name', contexts: LOC3, kind: 'http', field: 'proxySslName', parse: word, default: '$proxy_host', templates: 0, syntax: 'proxy_ssl_name name;', summary: 'Name sent as SNI and checked against the upstream certificate.' }),
  setting({ name: 'proxy_ssl_verify', contexts: LOC3, kind: 'http', field: 'proxySslVerify', parse: flag, default: 'off', syntax: 'proxy_ssl_verify on | off;', summary: 'Verify the upstream certificate.' }),
  setting({ name: 'proxy_ssl_verify_depth', contexts: LOC3, kind: 'http', field: 'proxySslVerifyDepth', parse: count, default: '1', syntax: 'proxy_ssl_verify_depth number;', summary: 'Longest upstream certificate chain.' }),
  setting({ name: 'proxy_ssl_trusted_certificate', contexts: LOC3, kind: 'http', field: 'proxySslTrustedCertificate', parse: pathArg, initial: null, syntax: 'proxy_ssl_trusted_certificate file;', summary: 'CAs that upstream certificates are verified against.', note: 'Without it, `proxy_ssl_verify on` uses Node\'s bundled CA list.' }),
  setting({ name: 'proxy_ssl_certificate', contexts: LOC3, kind: 'http', field: 'proxySslCertificate', parse: pathArg, initial: null, syntax: 'proxy_ssl_certificate file;', summary: 'Client certificate presented to upstreams.' }),
  setting({ name: 'proxy_ssl_certificate_key', contexts: LOC3, kind: 'http', field: 'proxySslCertificateKey', parse: pathArg, initial: null, syntax: 'proxy_ssl_certificate_key file;', summary: 'Key of `proxy_ssl_certificate`.' }),
  setting({ name: 'proxy_ssl_password_file', contexts: LOC3, kind: 'http', field: 'proxySslPasswordFile', parse: pathArg, initial: null, syntax: 'proxy_ssl_password_file file;', summary: 'Passphrases for an encrypted `proxy_ssl_certificate_key`.' }),
  setting({ name: 'proxy_ssl_protocols', contexts: LOC3, kind: 'http', field: 'proxySslProtocols', parse: protocols, args: [1, 4], default: 'TLSv1.2 TLSv1.3', syntax: 'proxy_ssl_protocols [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];', summary: 'TLS versions offered to upstreams.' }),
  setting({ name: 'proxy_ssl_ciphers', contexts: LOC3, kind: 'http', field: 'proxySslCiphers', parse: opensslList('ciphers'), default: 'DEFAULT', syntax: 'proxy_ssl_ciphers ciphers;', summary: 'OpenSSL cipher list for upstream TLS.' }),
  setting({ name: 'proxy_ssl_session_reuse', contexts: LOC3, kind: 'http', field: 'proxySslSessionReuse', parse: flag, default: 'on', syntax: 'proxy_ssl_session_reuse on | off;', summary: 'Resume TLS sessions with upstreams.' }),
];

function pemFile(prefix: string, p: PathArg | null | undefined): PemFile | null {
  return p == null ? null : { file: resolvePath(prefix, p.path), pem: '', loc: p.loc };
}

/**
 * A level's certificates: `ssl_certificate` and `ssl_certificate_key` lists are inherited
 * separately (a level that sets either replaces the parent's list) and paired by position.
 */
function certificates(s: Settings, prefix: string, r: Reporter): CertificateConfig[] {
  const certs = (s['sslCertificates'] as PathArg[] | undefined) ?? [];
  const keys = (s['sslCertificateKeys'] as PathArg[] | undefined) ?? [];
  const out: CertificateConfig[] = [];
  for (let i = 0; i < certs.length; i++) {
    const key = keys[i];
    if (key === undefined) {
      err(r, 'TSP_ERR_CONFIG_REFERENCE', `no "ssl_certificate_key" is defined for certificate "${certs[i]!.path}"`, certs[i]!.loc);
      continue;
    }
    out.push({ cert: pemFile(prefix, certs[i])!, key: pemFile(prefix, key)!, passphrase: null });
  }
  return out;
}

/**
 * SslConfig of a server from its merged settings (`get` returns the server's own value, else the
 * area level's, else the default). `passwordFile` rides along for tls-files.ts to try.
 */
export function assembleSsl(get: (field: string) => unknown, prefix: string, r: Reporter): SslConfig {
  const certs = certificates({ sslCertificates: get('sslCertificates'), sslCertificateKeys: get('sslCertificateKeys') }, prefix, r);
  return {
    certificates: certs,
    protocols: get('sslProtocols') as TlsProtocol[],
    ciphers: get('sslCiphers') as string,
    preferServerCiphers: get('sslPreferServerCiphers') as boolean,
    sessionTimeoutMs: get('sslSessionTimeoutMs') as number,
    sessionTickets: get('sslSessionTickets') as boolean,
    ecdhCurve: get('sslEcdhCurve') as string,
    dhparam: pemFile(prefix, get('sslDhparam') as PathArg | null),
    verifyClient: get('sslVerifyClient') as SslConfig['verifyClient'],
    verifyDepth: get('sslVerifyDepth') as number,
    clientCertificate: pemFile(prefix, get('sslClientCertificate') as PathArg | null),
    trustedCertificate: pemFile(prefix, get('sslTrustedCertificate') as PathArg | null),
    passwordFile: pemFile(prefix, get('sslPasswordFile') as PathArg | null),
  };
}

/** The proxy_ssl_* fields a level may set (mergeSettings rebuilds ProxySslConfig only when one is). */
export const PROXY_SSL_FIELDS: readonly string[] = [
  'proxySslServerName', 'proxySslName', 'proxySslVerify', 'proxySslVerifyDepth', 'proxySslTrustedCertificate',
  'proxySslCertificate', 'proxySslCertificateKey', 'proxySslPasswordFile', 'proxySslProtocols', 'proxySslCiphers', 'proxySslSessionReuse',
];

/**
 * ProxySslConfig of a level: `base` (the parent's; null at the root, where `own` holds every
 * default) overlaid with the level's own proxy_ssl_* values. A certificate set at one level pairs
 * with a key set at another.
 */
export function assembleProxySsl(base: ProxySslConfig | null, own: Settings, prefix: string): ProxySslConfig {
  const pick = <T>(field: string, fallback: T): T => (own[field] === undefined ? fallback : (own[field] as T));
  const certificate = {
    cert: own['proxySslCertificate'] !== undefined ? pemFile(prefix, own['proxySslCertificate'] as PathArg | null) : base?.certificate.cert ?? null,
    key: own['proxySslCertificateKey'] !== undefined ? pemFile(prefix, own['proxySslCertificateKey'] as PathArg | null) : base?.certificate.key ?? null,
    passphrase: null,
  };
  const d = base;
  // At the root `own` holds every field's default, so the fallbacks below are never used there.
  return {
    serverName: pick('proxySslServerName', d?.serverName ?? false),
    name: pick('proxySslName', d?.name ?? '$proxy_host'),
    verify: pick('proxySslVerify', d?.verify ?? false),
    verifyDepth: pick('proxySslVerifyDepth', d?.verifyDepth ?? 1),
    trustedCertificate: own['proxySslTrustedCertificate'] !== undefined ? pemFile(prefix, own['proxySslTrustedCertificate'] as PathArg | null) : d?.trustedCertificate ?? null,
    certificate,
    protocols: pick('proxySslProtocols', d?.protocols ?? ['TLSv1.2', 'TLSv1.3']),
    ciphers: pick('proxySslCiphers', d?.ciphers ?? 'DEFAULT'),
    sessionReuse: pick('proxySslSessionReuse', d?.sessionReuse ?? true),
    passwordFile: own['proxySslPasswordFile'] !== undefined ? pemFile(prefix, own['proxySslPasswordFile'] as PathArg | null) : d?.passwordFile ?? null,
  };
}
