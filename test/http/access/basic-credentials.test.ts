/** nginx's reading of `Authorization: Basic` (ngx_http_auth_basic_user), checked with nginx 1.22. */
import { describe, expect, test } from 'vitest';
import { basicCredentials } from '../../../src/http/access/basic-credentials.js';

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

describe('basicCredentials', () => {
  test('the user up to the first colon, the password after it (bytes)', () => {
    const c = basicCredentials(`Basic ${b64('user:pa:ss')}`)!;
    expect([c.user, c.password.toString('latin1')]).toEqual(['user', 'pa:ss']);
    expect(basicCredentials(`bAsIc    ${b64('u:')}`)!.password.length).toBe(0);
  });

  test('none: no header, another scheme, bad base64, no colon, an empty user', () => {
    for (const h of ['', 'Basic', 'Basic ', 'Bearer abc', 'Basic !!!', 'Basic abcde', `Basic ${b64('nocolon')}`, `Basic ${b64(':pw')}`]) {
      expect([h, basicCredentials(h)]).toEqual([h, null]);
    }
  });
});
