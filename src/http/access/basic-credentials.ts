/**
 * The user and password of an `Authorization: Basic ...` header, read as nginx does
 * (ngx_http_auth_basic_user): the scheme caseless, spaces after it skipped, strict base64, the
 * user up to the first `:`; no header, another scheme, bad base64, no `:` or an empty user all
 * mean "no user/password was provided". Strings are latin1 (one char per byte), so user names
 * compare byte for byte with the htpasswd file.
 */
export interface BasicCredentials {
  readonly user: string;
  readonly password: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `auth`: the Authorization header's value ('' when there is none). */
export function basicCredentials(auth: string): BasicCredentials | null {
  if (auth.length < 6 || auth.slice(0, 6).toLowerCase() !== 'basic ') return null;
  let at = 6;
  while (at < auth.length && auth.charCodeAt(at) === 0x20) at++;
  const encoded = auth.slice(at);
  if (encoded === '' || encoded.length % 4 === 1 || !BASE64.test(encoded)) return null;
  const raw = Buffer.from(encoded, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon <= 0) return null;
  return { user: raw.toString('latin1', 0, colon), password: raw.subarray(colon + 1) };
}
