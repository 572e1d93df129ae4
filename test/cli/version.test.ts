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

  test('what is only accepted for compatibility is listed as --without', () => {
    const gzip = DIRECTIVES_BY_NAME.get('gzip') ?? [];
    expect(gzip.every((s) => s.note?.includes('has no effect'))).toBe(true);
    expect(FEATURES).toContain('--without-http_gzip_module');
  });
});
