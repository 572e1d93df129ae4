/**
 * The two fields of a serialized OpenSSL session (i2d_SSL_SESSION, what Node's getSession()
 * returns) that nginx reads through OpenSSL calls Node does not offer: the session id
 * ($ssl_session_id, SSL_SESSION_get_id) and the key exchange group ($ssl_curve,
 * SSL_get_negotiated_group). SSL_SESSION_ASN1 is a SEQUENCE of version, ssl_version, cipher,
 * session_id (OCTET STRING), ... and, in OpenSSL 3, `kex_group` as [19] EXPLICIT INTEGER.
 */

export interface SessionFields {
  readonly id: Buffer;
  /** TLS group id, 0 when the session has none. */
  readonly kexGroup: number;
}

const NONE: SessionFields = Object.freeze({ id: Buffer.alloc(0), kexGroup: 0 });
const KEX_GROUP_TAG = 0xa0 | 19;

/** One DER element at `i`: its tag, where its content starts and ends; null when malformed. */
function element(b: Buffer, i: number): { tag: number; start: number; end: number } | null {
  if (i + 2 > b.length) return null;
  const tag = b[i]!;
  let len = b[i + 1]!;
  let start = i + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > b.length) return null;
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + b[start + k]!;
    start += n;
  }
  const end = start + len;
  return end > b.length ? null : { tag, start, end };
}

export function sessionFields(der: Buffer | undefined): SessionFields {
  if (der === undefined) return NONE;
  const seq = element(der, 0);
  if (seq === null || seq.tag !== 0x30) return NONE;
  let id: Buffer = NONE.id;
  let kexGroup = 0;
  let index = 0;
  for (let i = seq.start; i < seq.end; index++) {
    const e = element(der, i);
    if (e === null) break;
    if (index === 3 && e.tag === 0x04) id = der.subarray(e.start, e.end);
    if (e.tag === KEX_GROUP_TAG) {
      const n = element(der, e.start);
      if (n !== null && n.tag === 0x02) for (let k = n.start; k < n.end; k++) kexGroup = kexGroup * 256 + der[k]!;
    }
    i = e.end;
  }
  return { id, kexGroup };
}
