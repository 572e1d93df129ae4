/**
 * Where problems point (file:line:col and the caret's length) after what could shift a position:
 * tabs, CRLF line ends, multi-byte UTF-8 before the error, quoted strings with escapes and line
 * breaks, included files. The config scan is tuned for speed (issue 18's `-t` target); these
 * pin what `-t` prints, so a cheaper scan or build cannot move a caret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { formatConfigError } from '../../src/config/format.js';
import { loadConfigFile, type LoadResult } from '../../src/config/load.js';

function files(entries: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsproxy-pos-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Every error, warning and notice as `-t` prints it, with the directory replaced by DIR. */
function printed(r: LoadResult, dir: string): string[] {
  return [...r.errors, ...r.warnings, ...r.notices].map((e) => formatConfigError(e, r.sources).replaceAll(dir, 'DIR'));
}

const SERVER = 'listen 127.0.0.1:8080;';

test('tabs, CRLF and multi-byte UTF-8 before the error: columns count UTF-16 units, the caret keeps tabs', () => {
  const dir = files({
    'a.conf': `events {}\r\nhttp {\r\n\tserver {\r\n\t\t${SERVER}\r\n\t\tserver_name "ü€😀.test"\tbad_one;\r\n\t\tproxy_pas\thttp://x;\r\n\t}\r\n}\r\n`,
  });
  const r = loadConfigFile(join(dir, 'a.conf'), { prefix: dir, checkOnly: true });
  expect(printed(r, dir)).toEqual([
    'tsproxy: [emerg] unknown directive "proxy_pas" - did you mean "proxy_pass"? in DIR/a.conf:6:3\n\t\tproxy_pas\thttp://x;\n\t\t^^^^^^^^^',
  ]);
});

test('quoted strings with escapes and line breaks: the next token keeps its line and column', () => {
  const dir = files({
    'a.conf': [
      'events {}',
      'http {',
      '  server {',
      `    ${SERVER}`,
      '    return 200 "a\\"b\\\\c\\n',
      'd\te";   set $x \'é\\\'\'; listen nope:x;',
      '  }',
      '}',
      '',
    ].join('\n'),
  });
  const r = loadConfigFile(join(dir, 'a.conf'), { prefix: dir, checkOnly: true });
  expect(printed(r, dir)).toEqual([
    // Column 30: `d`, a tab, then 27 characters (the é is one UTF-16 unit); the caret line keeps the tab.
    `tsproxy: [emerg] invalid port in "nope:x" of the "listen" directive in DIR/a.conf:6:30\nd\te";   set $x 'é\\''; listen nope:x;\n \t${' '.repeat(27)}^^^^^^`,
  ]);
});

test('a missing ";" before a directive on the next line: the warning points at the next line', () => {
  const dir = files({ 'a.conf': `events {}\nhttp {\n  server {\n    ${SERVER}\n    server_name a.test\n\tproxy_read_timeout 5s;\n  }\n}\n` });
  const r = loadConfigFile(join(dir, 'a.conf'), { prefix: dir, checkOnly: true });
  expect(printed(r, dir)).toEqual([
    'tsproxy: [warn] possible missing ";" after "server_name": "proxy_read_timeout" on the next line is a directive in DIR/a.conf:6:2\n\tproxy_read_timeout 5s;\n\t^^^^^^^^^^^^^^^^^^',
  ]);
});

test('problems in included files point into them, in include order, with notices', () => {
  const dir = files({
    'a.conf': `events {}\nhttp {\n  include b.conf;\n  server {\n    ${SERVER}\n    include c.conf;\n  }\n}\n`,
    'b.conf': '\t# ü\r\n\tsendfile on;\r\n\tkeepalive_timeout 1x;\r\n',
    'c.conf': 'location / {\n    return 200 "ok";\n    proxy_pass  http://a b;\n}\n',
  });
  const r = loadConfigFile(join(dir, 'a.conf'), { prefix: dir, checkOnly: true });
  expect(printed(r, dir)).toEqual([
    'tsproxy: [emerg] "keepalive_timeout" directive invalid value in DIR/b.conf:3:20\n\tkeepalive_timeout 1x;\n\t                  ^^',
    'tsproxy: [emerg] invalid number of arguments in "proxy_pass" directive in DIR/c.conf:3:5\n    proxy_pass  http://a b;\n    ^^^^^^^^^^',
    'tsproxy: [notice] "sendfile" directive has no effect in tsproxy in DIR/b.conf:2:2\n\tsendfile on;\n\t^^^^^^^^',
  ]);
});
