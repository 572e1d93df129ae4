/**
 * htpasswd hash schemes against their reference implementations: the vectors were made with
 * glibc's crypt() (Python's crypt module: $1$, $5$, $6$ with and without rounds=) and
 * `openssl passwd -apr1`, for passwords of 0, 1, 16, 17 and 100+ bytes (the
 * branches of the algorithms), UTF-8 included.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { checkPassword, md5Crypt, shaCrypt } from '../../../src/http/access/password-hash.js';

const VECTORS: readonly [string, string][] = [
  ["", "$1$abc$Or2rbeUYTvt12aiVzMuS/."],
  ["", "$5$xy$Uj5BhmLoZxDpBbJsOkoyL4TgtFF3jpmPV4PsBkqQaO1"],
  ["", "$6$rounds=1000$0123456789abcdef$p7CpmX0THtH3.Cg4cDlA.ml4HG12H9uel9SGLKvv/7t.iqVksvRGRiyrwoyNTDGfmskOV8PWiWyCPzyQ/9Al2/"],
  ["", "$5$rounds=5001$s$w4phjbPKSynXJOfvSjYq72WnrCUoqyvFdQHeg.eoUID"],
  ["a", "$1$abc$uAXS.Zj1ZDNcW9iX1TVH2/"],
  ["a", "$5$xy$Rfzb2MdNrPGYrrk7mfvDuwXhFhgd5SRGXwg1yTKBEA3"],
  ["a", "$6$rounds=1000$0123456789abcdef$mCxGHJTF9sbr3IgCUy.R0Zpz25NlL.KdpQi8qAQXelm6xl5S6Lt7samr9JrjsgWWMHYY/itHGoCwaIkkGFY5O/"],
  ["a", "$5$rounds=5001$s$oQdww5yDysjlHUy3kEokTl25VGy.puJuzwGz7PMM5cB"],
  ["pppppppppppppppp", "$1$abc$PlyGWBqISRNSUNKWloMaG0"],
  ["pppppppppppppppp", "$5$xy$QcZ377CE/eqyxygK5EV/YtEkrxQw/B6On2BqiFWsgq7"],
  ["pppppppppppppppp", "$6$rounds=1000$0123456789abcdef$GrXYGm6wIuk9j92Mdjn8KUCFyo.K6Enu8Cdmr60vHivz0Dguzo2KwRvC8pYjxY/u/RI/IFxtxnWCv8cxP8spE1"],
  ["pppppppppppppppp", "$5$rounds=5001$s$eUTFQOw70z5OB9q.Cb3KmChf2ZDhghPStpRwFylPFb5"],
  ["qqqqqqqqqqqqqqqqq", "$1$abc$njgZQ7nAqjm1JMqCJDAXX1"],
  ["qqqqqqqqqqqqqqqqq", "$5$xy$qTYUj0Q7qe.nGlh8o0PFr3iDfl0SdgFxk5MbH5Wgu4."],
  ["qqqqqqqqqqqqqqqqq", "$6$rounds=1000$0123456789abcdef$QuU0ZYHUCNonIZWPIPpUOjWP20e899HUfERlGi1yA/nwArTnFz0Sfq/Dg7HEyCMAhmxZ8URIDSToNxXKT3Kjh0"],
  ["qqqqqqqqqqqqqqqqq", "$5$rounds=5001$s$xT/wEFw4tHy5SclMW1oP8wr.avKytBySvx.weW78Ts1"],
  ["long password with spaces and ünïcodelong password with spaces and ünïcodelong password with spaces and ünïcode", "$1$abc$btppJC0LPiYNHdLwxPhX2/"],
  ["long password with spaces and ünïcodelong password with spaces and ünïcodelong password with spaces and ünïcode", "$5$xy$oauZ9gAyPi0sNi5PmLBIPexHmAB19gtf99qGPYLFoh8"],
  ["long password with spaces and ünïcodelong password with spaces and ünïcodelong password with spaces and ünïcode", "$6$rounds=1000$0123456789abcdef$AAHVMqKQWF5D4xoOSJzYD8d5zqCyAf94pzbkrSYR/UI70z1WAYfRfTm3CiyvGYbcaiQS6n3zYO7/tcuqYjHzA."],
  ["long password with spaces and ünïcodelong password with spaces and ünïcodelong password with spaces and ünïcode", "$5$rounds=5001$s$M/3ooz6UDQb27c03/VFdPW/4TAgx3B9rXXwjHbNotZ."],
  ["", "$apr1$Xy.z/9$OxOVKgssoPsLRmaGIOVTc."],
  ["a", "$apr1$Xy.z/9$PCtNp1jiekHAaGzWZ2HOr/"],
  ["pppppppppppppppppppp", "$apr1$Xy.z/9$wZUcaOTdwWYAjuaNuUuQD0"],
];

describe('password hashes of htpasswd files', () => {
  test.each(VECTORS)('%j → %s', async (password, hash) => {
    const pw = Buffer.from(password, 'utf8');
    const computed = hash.startsWith('$apr1$') ? md5Crypt(pw, '$apr1$', hash.split('$')[2]!)
      : hash.startsWith('$1$') ? md5Crypt(pw, '$1$', hash.split('$')[2]!)
      : shaCrypt(pw, hash.startsWith('$5$') ? '$5$' : '$6$', hash.slice(3));
    expect(computed).toBe(hash);
    expect(await checkPassword(hash, pw)).toBe(true);
    expect(await checkPassword(hash, Buffer.concat([pw, Buffer.from('x')]))).toBe(false);
  });

  test('{PLAIN}, {SHA}, {SSHA}; bcrypt $2y$ / $2b$; an unknown scheme (DES crypt) never matches', async () => {
    const sha = `{SHA}${createHash('sha1').update('pw').digest('base64')}`;
    const salt = Buffer.from('salt!');
    const ssha = `{SSHA}${Buffer.concat([createHash('sha1').update('pw').update(salt).digest(), salt]).toString('base64')}`;
    // made with glibc crypt(): METHOD_BLOWFISH, rounds=16 ($2b$), and the same hash under PHP's $2y$ name
    const bcrypt = '$2b$04$XUhga3pelyzmA9BNBkoHPehDKVuxq69l6sD4DfCkNuEcsEDECoZ.e';
    for (const [hash, ok, bad] of [['{PLAIN}pw', 'pw', 'pX'], [sha, 'pw', 'px'], [ssha, 'pw', 'px'], [bcrypt, 'secret', 'secreT'], [bcrypt.replace('$2b$', '$2y$'), 'secret', 'x']] as const) {
      expect([hash, await checkPassword(hash, Buffer.from(ok))]).toEqual([hash, true]);
      expect([hash, await checkPassword(hash, Buffer.from(bad))]).toEqual([hash, false]);
    }
    expect(await checkPassword('abJnggxhB/yWI', Buffer.from('pw'))).toBe(false);
    expect(await checkPassword('{SSHA}AAAA', Buffer.from('pw'))).toBe(false);
  });
});
