/**
 * Golden configs (Caddy style): test/fixtures/config/<name>.conftest holds a config, a line of
 * dashes, then the expected outcome: error lines `file:line:col: message`, or warning lines
 * (`warn ...`) followed by the JSON projection of the built tree. UPDATE_GOLDEN=1 rewrites them.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const DIR = join(import.meta.dirname, '../fixtures/config');
const SEP = '\n----------\n';
const cases = readdirSync(DIR).filter((f) => f.endsWith('.conftest')).sort();

const empty = loadConfig('http { server { location / { } } }', 'x', { prefix: '/p' }).config!;
const DEFAULT_SETTINGS = empty.http!.servers[0]!.settings as unknown as Record<string, unknown>;
const DEFAULT_MAIN = empty.main as unknown as Record<string, unknown>;

/** Only what a fixture is about: settings and main fields that differ from the defaults; no locs. */
function project(config: Config): string {
  return JSON.stringify(
    { main: diff(DEFAULT_MAIN, config.main as unknown as Record<string, unknown>), http: config.http, stream: config.stream },
    function (key, value) {
      if (key === 'loc') return undefined;
      if (key === 'settings' && value !== null && typeof value === 'object') return diff(DEFAULT_SETTINGS, value as Record<string, unknown>);
      return value as unknown;
    },
    2,
  );
}

function diff(base: Record<string, unknown>, v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (JSON.stringify(x) !== JSON.stringify(base[k])) out[k] = x;
  return out;
}

function outcome(name: string, text: string): string {
  const r = loadConfig(text, name, { prefix: '/p' });
  if (r.config === null) return r.errors.map(String).join('\n');
  return [...r.warnings.map((w) => `warn ${String(w)}`), project(r.config)].join('\n');
}

describe('golden configs', () => {
  test('there are fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(40));
  for (const file of cases) {
    test(file, () => {
      const path = join(DIR, file);
      const raw = readFileSync(path, 'utf8');
      const i = raw.indexOf(SEP);
      const text = i < 0 ? raw : raw.slice(0, i + 1);
      const actual = outcome(file, text);
      if (process.env['UPDATE_GOLDEN'] === '1') {
        writeFileSync(path, `${text.replace(/\n$/, '')}${SEP}${actual}\n`);
        return;
      }
      expect(i, `${file} has no "----------" line (run with UPDATE_GOLDEN=1)`).toBeGreaterThan(0);
      expect(actual).toBe(raw.slice(i + SEP.length).replace(/\n$/, ''));
    });
  }
});
