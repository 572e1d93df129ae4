/**
 * ssl_* (TLS termination, http and stream servers) and proxy_ssl_* (TLS to http upstreams).
 *
 * The directives only record paths and values; assembleSsl / assembleProxySsl turn a level's
 * merged settings into SslConfig / ProxySslConfig (paths resolved against the prefix, certificates
 * paired with keys by position as nginx does). File contents are read and checked afterwards by
 * src/config/tls-files.ts, once per distinct file.
 */
import { tlsReason } from '../tls-files.js';
import type { CertificateConfig, PemFile, ProxySslConfig, SslConfig, TlsProtocol } from '../types.js';
import {
  count, err, flag, invalidValue, listSetting, member, noEffect, pathArg, resolvePath, seconds, setting,
  type Context, type DirectiveSpec, type Reporter, type SettingOptions, type ValueParser,
} from './scope.js';
import type { PathArg, ProxySslValues, SslSettings, SslValues } from './settings.js';

const HTTP_SSL: readonly Context[] = ['http', 'server'];
const STREAM_SSL: readonly Context[] = ['stream', 'stream_server'];
const LOC3: readonly Context[] = ['http', 'server', 'location'];

const PROTOCOLS: readonly TlsProtocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];


const protocols: ValueParser<TlsProtocol[]> = (args, d, r) => {
  const out: TlsProtocol[] = [];
  for (const a of args) {
    // nginx accepts SSLv2/SSLv3 and OpenSSL refuses them at run time; refuse them here, clearly.
    const p = member(PROTOCOLS, a.value);
    if (p === undefined) return invalidValue(r, a, d);
    if (!out.includes(p)) out.push(p);
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
 * refuse a typo instead of the runtime failing to build its TLS contexts later. The table's own
 * default (`builtIn`) is not checked: the table checks its defaults when it loads, and building
 * a TLS context then (node:tls loaded, four contexts) cost every start and every `-t` ~12 ms,
 * TLS or not. A config that writes the default gets what it gets without writing it.
 */
function opensslList(option: 'ciphers' | 'ecdhCurve', builtIn: string): ValueParser<string> {
  return (args, d, r) => {
    const v = args[0]!.value;
    if (v === builtIn) return v;
    try {
      // node:tls is loaded here, not imported: a config without TLS never needs it.
      process.getBuiltinModule('node:tls').createSecureContext({ [option]: v });
      return v;
    } catch (e) {
      return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${v}" in "${d.name}" directive: ${tlsReason(e)}`, args[0]!.loc);
    }
  };
}

const sessionTimeout: ValueParser<number> = (args, d, r) => seconds(args, d, r);

type SslArea = 'http' | 'stream';

/** The ssl_* directives of one area (http servers or stream servers): same names, own settings kind. */
function sslDirectives(contexts: readonly Context[], kind: SslArea): DirectiveSpec[] {
  const s = <F extends keyof SslValues>(o: Omit<SettingOptions<SslArea, F>, 'kind' | 'contexts'>): DirectiveSpec => setting({ contexts, kind, ...o });
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
    s({ name: 'ssl_ciphers', field: 'sslCiphers', parse: opensslList('ciphers', 'HIGH:!aNULL:!MD5'), default: 'HIGH:!aNULL:!MD5', syntax: 'ssl_ciphers ciphers;', summary: 'OpenSSL cipher list for TLSv1.2 and below.' }),
    s({ name: 'ssl_prefer_server_ciphers', field: 'sslPreferServerCiphers', parse: flag, default: 'off', syntax: 'ssl_prefer_server_ciphers on | off;', summary: 'Prefer the server\'s cipher order.' }),
    s({ name: 'ssl_session_timeout', field: 'sslSessionTimeoutMs', parse: sessionTimeout, default: '5m', syntax: 'ssl_session_timeout time;', summary: 'How long a TLS session (ticket) may be resumed.' }),
    s({ name: 'ssl_session_tickets', field: 'sslSessionTickets', parse: flag, default: 'on', syntax: 'ssl_session_tickets on | off;', summary: 'Resume sessions with TLS session tickets.' }),
    s({ name: 'ssl_ecdh_curve', field: 'sslEcdhCurve', parse: opensslList('ecdhCurve', 'auto'), default: 'auto', syntax: 'ssl_ecdh_curve curve[:curve...] | auto;', summary: 'Curves for ECDHE key exchange.' }),
    s({ name: 'ssl_dhparam', field: 'sslDhparam', parse: pathArg, initial: null, syntax: 'ssl_dhparam file;', summary: 'DH parameters for DHE ciphers.' }),
    s({ name: 'ssl_verify_client', field: 'sslVerifyClient', parse: verifyClient, default: 'off', syntax: 'ssl_verify_client on | off | optional | optional_no_ca;', summary: 'Request (optional) or require (on) a client certificate.' }),
    s({ name: 'ssl_verify_depth', field: 'sslVerifyDepth', parse: count, default: '1', syntax: 'ssl_verify_depth number;', summary: 'Longest client certificate chain.' }),
    s({ name: 'ssl_client_certificate', field: 'sslClientCertificate', parse: pathArg, initial: null, syntax: 'ssl_client_certificate file;', summary: 'CAs that client certificates are verified against (names sent to clients).' }),
    s({ name: 'ssl_trusted_certificate', field: 'sslTrustedCertificate', parse: pathArg, initial: null, syntax: 'ssl_trusted_certificate file;', summary: 'More CAs for client verification, not sent to clients.' }),
    noEffect('ssl_buffer_size', contexts, [1, 1], 'Size of the buffer for sending data.', 'ssl_buffer_size size;'),
    { ...noEffect('ssl_stapling', contexts, [1, 1], 'OCSP stapling (not supported).', 'ssl_stapling on | off;'), note: 'Not supported: accepted and ignored, so nginx configs load. OCSP responses are not stapled.' },
    { ...noEffect('ssl_stapling_verify', contexts, [1, 1], 'Verify OCSP responses (not supported).', 'ssl_stapling_verify on | off;'), note: 'Not supported: accepted and ignored.' },
    { ...noEffect('ssl_early_data', contexts, [1, 1], 'TLS 1.3 early data (not supported; always off).', 'ssl_early_data on | off;'), note: 'Not supported: early data is never accepted.' },
  ];
}

/**
 * The proxy_ssl_* directives of one area: http locations (`proxy_pass https://`) and stream
 * servers (`proxy_ssl on`), same names, own settings kind. Only the name default differs: http's
 * is `$proxy_host`; stream's '' stands for proxy_pass's host (stream has no $proxy_host).
 */
function proxySslDirectives(contexts: readonly Context[], kind: SslArea, nameDefault: string): DirectiveSpec[] {
  const s = <F extends keyof ProxySslValues>(o: Omit<SettingOptions<SslArea, F>, 'kind' | 'contexts'>): DirectiveSpec => setting({ contexts, kind, ...o });
  return [
    s({ name: 'proxy_ssl_server_name', field: 'proxySslServerName', parse: flag, default: 'off', syntax: 'proxy_ssl_server_name on | off;', summary: 'Send SNI to TLS upstreams.' }),
    s({ name: 'proxy_ssl_name', field: 'proxySslName', parse: word, ...(nameDefault === '' ? { initial: '' } : { default: nameDefault }), templates: 0, syntax: 'proxy_ssl_name name;', summary: 'Name sent as SNI and checked against the upstream certificate.', ...(nameDefault === '' ? { note: 'Default: the host of proxy_pass.' } : {}) }),
    s({ name: 'proxy_ssl_verify', field: 'proxySslVerify', parse: flag, default: 'off', syntax: 'proxy_ssl_verify on | off;', summary: 'Verify the upstream certificate.' }),
    s({ name: 'proxy_ssl_verify_depth', field: 'proxySslVerifyDepth', parse: count, default: '1', syntax: 'proxy_ssl_verify_depth number;', summary: 'Longest upstream certificate chain.' }),
    s({ name: 'proxy_ssl_trusted_certificate', field: 'proxySslTrustedCertificate', parse: pathArg, initial: null, syntax: 'proxy_ssl_trusted_certificate file;', summary: 'CAs that upstream certificates are verified against.', note: 'Without it, `proxy_ssl_verify on` uses Node\'s bundled CA list.' }),
    s({ name: 'proxy_ssl_certificate', field: 'proxySslCertificate', parse: pathArg, initial: null, syntax: 'proxy_ssl_certificate file;', summary: 'Client certificate presented to upstreams.' }),
    s({ name: 'proxy_ssl_certificate_key', field: 'proxySslCertificateKey', parse: pathArg, initial: null, syntax: 'proxy_ssl_certificate_key file;', summary: 'Key of `proxy_ssl_certificate`.' }),
    s({ name: 'proxy_ssl_password_file', field: 'proxySslPasswordFile', parse: pathArg, initial: null, syntax: 'proxy_ssl_password_file file;', summary: 'Passphrases for an encrypted `proxy_ssl_certificate_key`.' }),
    s({ name: 'proxy_ssl_protocols', field: 'proxySslProtocols', parse: protocols, args: [1, 4], default: 'TLSv1.2 TLSv1.3', syntax: 'proxy_ssl_protocols [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];', summary: 'TLS versions offered to upstreams.' }),
    s({ name: 'proxy_ssl_ciphers', field: 'proxySslCiphers', parse: opensslList('ciphers', 'DEFAULT'), default: 'DEFAULT', syntax: 'proxy_ssl_ciphers ciphers;', summary: 'OpenSSL cipher list for upstream TLS.' }),
    s({ name: 'proxy_ssl_session_reuse', field: 'proxySslSessionReuse', parse: flag, default: 'on', syntax: 'proxy_ssl_session_reuse on | off;', summary: 'Resume TLS sessions with upstreams.' }),
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
  ...proxySslDirectives(LOC3, 'http', '$proxy_host'),
  ...proxySslDirectives(STREAM_SSL, 'stream', ''),
  setting({ name: 'proxy_ssl', contexts: STREAM_SSL, kind: 'stream', field: 'proxySsl', parse: flag, default: 'off', syntax: 'proxy_ssl on | off;', summary: 'Speak TLS to the upstream (stream).' }),
];

function pemFile(prefix: string, p: PathArg | null): PemFile | null {
  return p === null ? null : { file: resolvePath(prefix, p.path), pem: '', loc: p.loc };
}

/**
 * A level's certificates: `ssl_certificate` and `ssl_certificate_key` lists are inherited
 * separately (a level that sets either replaces the parent's list) and paired by position.
 */
function certificates(certs: readonly PathArg[], keys: readonly PathArg[], prefix: string, r: Reporter): CertificateConfig[] {
  const out: CertificateConfig[] = [];
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    const key = keys[i];
    if (key === undefined) {
      err(r, 'TSP_ERR_CONFIG_REFERENCE', `no "ssl_certificate_key" is defined for certificate "${cert.path}"`, cert.loc);
      continue;
    }
    out.push({ cert: { file: resolvePath(prefix, cert.path), pem: '', loc: cert.loc }, key: { file: resolvePath(prefix, key.path), pem: '', loc: key.loc }, passphrase: null });
  }
  return out;
}

/**
 * SslConfig of a server: each ssl_* value its own (`own`, undefined when it sets none) or else
 * its area's (`area`: the http/stream level's values over the defaults). `passwordFile` rides
 * along for tls-files.ts to try.
 */
export function assembleSsl(own: Partial<SslSettings> | undefined, area: SslSettings, prefix: string, r: Reporter): SslConfig {
  return {
    certificates: certificates(own?.sslCertificates ?? area.sslCertificates, own?.sslCertificateKeys ?? area.sslCertificateKeys, prefix, r),
    protocols: own?.sslProtocols ?? area.sslProtocols,
    ciphers: own?.sslCiphers ?? area.sslCiphers,
    preferServerCiphers: own?.sslPreferServerCiphers ?? area.sslPreferServerCiphers,
    sessionTimeoutMs: own?.sslSessionTimeoutMs ?? area.sslSessionTimeoutMs,
    sessionTickets: own?.sslSessionTickets ?? area.sslSessionTickets,
    ecdhCurve: own?.sslEcdhCurve ?? area.sslEcdhCurve,
    dhparam: pemFile(prefix, own?.sslDhparam ?? area.sslDhparam),
    verifyClient: own?.sslVerifyClient ?? area.sslVerifyClient,
    verifyDepth: own?.sslVerifyDepth ?? area.sslVerifyDepth,
    clientCertificate: pemFile(prefix, own?.sslClientCertificate ?? area.sslClientCertificate),
    trustedCertificate: pemFile(prefix, own?.sslTrustedCertificate ?? area.sslTrustedCertificate),
    passwordFile: pemFile(prefix, own?.sslPasswordFile ?? area.sslPasswordFile),
    sessionCache: own?.sslSessionCache ?? area.sslSessionCache,
    sessionTicketKeys: (own?.sslSessionTicketKeys ?? area.sslSessionTicketKeys).map((p) => ({ file: resolvePath(prefix, p.path), key: '', loc: p.loc })),
    rejectHandshake: own?.sslRejectHandshake ?? area.sslRejectHandshake,
  };
}

/** The proxy_ssl_* fields a level may set (mergeSettings rebuilds ProxySslConfig only when one is). */
const PROXY_SSL_FIELDS: readonly (keyof ProxySslValues)[] = [
  'proxySslServerName', 'proxySslName', 'proxySslVerify', 'proxySslVerifyDepth', 'proxySslTrustedCertificate',
  'proxySslCertificate', 'proxySslCertificateKey', 'proxySslPasswordFile', 'proxySslProtocols', 'proxySslCiphers', 'proxySslSessionReuse',
];

/** Whether a level sets any proxy_ssl_* directive itself. */
export function setsProxySsl(own: Partial<ProxySslValues>): boolean {
  return PROXY_SSL_FIELDS.some((f) => own[f] !== undefined);
}

/** The ProxySslConfig of the http defaults (the root every level's is merged onto). */
export function proxySslOf(d: ProxySslValues, prefix: string): ProxySslConfig {
  return {
    serverName: d.proxySslServerName,
    name: d.proxySslName,
    verify: d.proxySslVerify,
    verifyDepth: d.proxySslVerifyDepth,
    trustedCertificate: pemFile(prefix, d.proxySslTrustedCertificate),
    certificate: { cert: pemFile(prefix, d.proxySslCertificate), key: pemFile(prefix, d.proxySslCertificateKey), passphrase: null },
    protocols: d.proxySslProtocols,
    ciphers: d.proxySslCiphers,
    sessionReuse: d.proxySslSessionReuse,
    passwordFile: pemFile(prefix, d.proxySslPasswordFile),
  };
}

/**
 * ProxySslConfig of a level: `base` (the parent's) overlaid with the level's own proxy_ssl_*
 * values. A certificate set at one level pairs with a key set at another.
 */
export function mergeProxySsl(base: ProxySslConfig, own: Partial<ProxySslValues>, prefix: string): ProxySslConfig {
  const pem = (p: PathArg | null | undefined, inherited: PemFile | null): PemFile | null => (p === undefined ? inherited : pemFile(prefix, p));
  return {
    serverName: own.proxySslServerName ?? base.serverName,
    name: own.proxySslName ?? base.name,
    verify: own.proxySslVerify ?? base.verify,
    verifyDepth: own.proxySslVerifyDepth ?? base.verifyDepth,
    trustedCertificate: pem(own.proxySslTrustedCertificate, base.trustedCertificate),
    certificate: {
      cert: pem(own.proxySslCertificate, base.certificate.cert),
      key: pem(own.proxySslCertificateKey, base.certificate.key),
      passphrase: null,
    },
    protocols: own.proxySslProtocols ?? base.protocols,
    ciphers: own.proxySslCiphers ?? base.ciphers,
    sessionReuse: own.proxySslSessionReuse ?? base.sessionReuse,
    passwordFile: pem(own.proxySslPasswordFile, base.passwordFile),
  };
}
