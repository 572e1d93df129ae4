/**
 * writeResponseHeaders with the head's text (HTTP/1 clients): runs of field lines passed on as
 * they are must give exactly the bytes the field-by-field path writes, whatever the upstream's
 * spacing, line ends, hidden or Connection-named fields and Location rewriting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldLines, compileResponseHeaders, writeResponseHeaders, type TemplateCompiler } from '../../src/http/headers.js';
import { parseResponseHead } from '../../src/wire/http1-response.js';
import { addHeader, locationSettings } from '../helpers/settings.js';

type Vars = Record<string, string>;
const compile: TemplateCompiler<Vars> = (t) => (r) => t.replace(/\$(\w+)/g, (_m, n: string) => r[n] ?? '');

/** What the field-by-field writer (an HTTP/2 stream, a body filter) would get, as text. */
class FieldsOnly {
  text = '';
  field(name: string, value: string): void {
    this.text += `${name}: ${value}\r\n`;
  }
}

function both(settings: Parameters<typeof locationSettings>[0], head: string, status = 200): { lines: string; fields: string } {
  const plan = compileResponseHeaders(locationSettings(settings), { from: 'http://backend/two/', to: '/one/' }, compile);
  const res = parseResponseHead(head, 'GET');
  if (res === null) throw new Error('bad head');
  const lines = new FieldLines();
  writeResponseHeaders(plan, res, status, {}, lines, head);
  const fields = new FieldsOnly();
  writeResponseHeaders(plan, res, status, {}, fields);
  return { lines: lines.text, fields: fields.text };
}

describe('response field lines passed on as they are', () => {
  it('gives the bytes of the field-by-field path for a typical head', () => {
    const head =
      'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 03:38:26 GMT\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 5\r\nConnection: keep-alive\r\nETag: "6959d1a8-5"\r\nCache-Control: public, max-age=60\r\n\r\n';
    const { lines, fields } = both({ addHeaders: [addHeader('X-A', 'a')] }, head);
    expect(lines).toBe(fields);
    expect(lines).toBe(
      'Server: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 03:38:26 GMT\r\nContent-Type: text/plain\r\nETag: "6959d1a8-5"\r\n' +
        'Cache-Control: public, max-age=60\r\nX-A: a\r\n',
    );
  });

  it('re-serialises lines not written as we write them, and a rewritten Location', () => {
    const head =
      'HTTP/1.1 302 Found\r\nA:  two spaces\r\nB:\ttab\r\nC: trailing \r\nD: bare lf\nLocation: http://backend/two/x\r\n' +
      'Connection: X-Hop\r\nX-Hop: 1\r\nE: \r\nF: ok\r\n\r\n';
    const { lines, fields } = both({}, head, 302);
    expect(lines).toBe(fields);
    expect(lines).toBe('A: two spaces\r\nB: tab\r\nC: trailing\r\nD: bare lf\r\nLocation: /one/x\r\nE: \r\nF: ok\r\n');
  });

  it('matches the field-by-field path on generated heads', () => {
    const name = fc.constantFrom('Server', 'Date', 'X-A', 'Content-Length', 'Connection', 'Keep-Alive', 'Location', 'Cache-Control', 'Expires', 'X-Powered-By');
    const value = fc.stringMatching(/^[!-~]([ -~]{0,12}[!-~])?$/);
    const line = fc.record({
      name,
      value,
      before: fc.constantFrom('', ' ', '  ', '\t'),
      after: fc.constantFrom('', ' ', '\t'),
      eol: fc.constantFrom('\r\n', '\n'),
    });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (ls) => {
        const head = `HTTP/1.1 200 OK\r\n${ls.map((l) => `${l.name}:${l.before}${l.value}${l.after}${l.eol}`).join('')}\r\n`;
        if (parseResponseHead(head, 'GET') === null) return;
        const { lines, fields } = both({ proxyHideHeaders: ['X-Powered-By'] }, head);
        expect(lines).toBe(fields);
      }),
      { numRuns: 300 },
    );
  });
});
