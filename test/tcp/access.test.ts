import { describe, expect, it } from 'vitest';
import { compileAccessRules, parseCidr } from '../../src/tcp/access.js';
import type { AccessRule } from '../../src/config/types.js';

const loc = { file: 't.conf', line: 1, column: 1 };
const rules = (...r: [AccessRule['action'], string][]): AccessRule[] => r.map(([action, source]) => ({ action, source, loc }));

describe('compileAccessRules', () => {
  it('allows everything without rules', () => {
    expect(compileAccessRules([])('203.0.113.9')).toBe(true);
  });

  it('takes the first matching rule (nginx example)', () => {
    const check = compileAccessRules(
      rules(['deny', '192.168.1.1'], ['allow', '192.168.1.0/24'], ['allow', '10.1.1.0/16'], ['allow', '2001:0db8::/32'], ['deny', 'all']),
    );
    expect(check('192.168.1.1')).toBe(false);
    expect(check('192.168.1.2')).toBe(true);
    expect(check('10.1.200.7')).toBe(true);
    expect(check('10.2.0.1')).toBe(false);
    expect(check('2001:db8:1::5')).toBe(true);
    expect(check('2001:db9::1')).toBe(false);
    expect(check('unix:')).toBe(false);
  });

  it('checks IPv4-mapped IPv6 clients against IPv4 rules', () => {
    const check = compileAccessRules(rules(['deny', '127.0.0.0/8'], ['allow', 'all']));
    expect(check('::ffff:127.0.0.1')).toBe(false);
    expect(check('::1')).toBe(true);
  });

  it('allows by default when no rule matches', () => {
    expect(compileAccessRules(rules(['deny', '10.0.0.0/8']))('11.0.0.1')).toBe(true);
  });

  it('ignores host bits and handles /0 and odd prefixes', () => {
    const check = compileAccessRules(rules(['allow', '10.1.2.3/23'], ['deny', '0.0.0.0/0']));
    expect(check('10.1.3.255')).toBe(true);
    expect(check('10.1.4.0')).toBe(false);
    expect(check('::2')).toBe(true);
  });
});

describe('parseCidr', () => {
  it.each(['10.0.0.0/33', '::/129', 'x', '10.0.0.0/', '10.0.0.0/a', 'fe80::1%eth0'])('rejects %s', (s) => {
    expect(parseCidr(s)).toBe(null);
  });
});
