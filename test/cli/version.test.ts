import { describe, expect, test } from 'vitest';
import { DIRECTIVES_BY_NAME } from '../../src/config/directives.js';
import { FEATURE_DIRECTIVES, FEATURES } from '../../src/version.js';

describe('-V feature list', () => {
  test.each(FEATURE_DIRECTIVES.filter(([, d]) => d !== null))('%s: the directive %s is in the directive table', (_flag, directive) => {
    const specs = DIRECTIVES_BY_NAME.get(directive!) ?? [];
    expect(specs.length).toBeGreaterThan(0);
    // a feature is built in only when its directive does something
    expect(specs.some((s) => s.note === undefined || !s.note.includes('has no effect'))).toBe(true);
  });

  test('gzip works, so it is not listed as --without (it is in nginx\'s default build: no flag)', () => {
    const gzip = DIRECTIVES_BY_NAME.get('gzip') ?? [];
    expect(gzip.some((s) => s.note?.includes('has no effect'))).toBe(false);
    expect(FEATURES.some((f) => f.includes('gzip_module'))).toBe(false);
    expect(FEATURES).toContain('--with-http_gzip_static_module');
  });
});
