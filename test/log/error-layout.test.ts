import { describe, expect, test } from 'vitest';
import { Writable } from 'node:stream';
import { formatErrorLine } from '../../src/log/error-layout.js';
import { LEVEL_VALUES, levelName } from '../../src/log/levels.js';
import { createLogger } from '../../src/log.js';

const NOW = new Date(2026, 11, 2, 5, 20, 31, 250).getTime();

describe("nginx's error-log layout", () => {
  test('time, [level], pid#0, *connection, message, then client/server/request/upstream/host in nginx order and quoting', () => {
    // The order and quoting of nginx 1.22's line for a refused upstream (checked with ask-nginx).
    const line = formatErrorLine(
      LEVEL_VALUES.error,
      { host: 'localhost', upstream: 'http://127.0.0.1:1/', request: 'GET / HTTP/1.1', server: '_', client: '127.0.0.1', connection: 5, code: 'TSP_ERR_UPSTREAM_CONNECT' },
      'connect() failed (111: Connection refused) while connecting to upstream',
      1234,
      NOW,
    );
    expect(line).toBe(
      '2026/12/02 05:20:31 [error] 1234#0: *5 connect() failed (111: Connection refused) while connecting to upstream, ' +
        'client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "localhost"\n',
    );
  });

  test('a UDP stream session\'s client is "udp client", first, as nginx 1.22 writes it', () => {
    const line = formatErrorLine(
      LEVEL_VALUES.error,
      { upstream: '127.0.0.1:29761', server: '127.0.0.1:29772', 'udp client': '127.0.0.1', connection: 9 },
      'recv() failed (111: Connection refused) while proxying and reading from upstream',
      1234,
      NOW,
    );
    expect(line).toBe(
      '2026/12/02 05:20:31 [error] 1234#0: *9 recv() failed (111: Connection refused) while proxying and reading from upstream, ' +
        'udp client: 127.0.0.1, server: 127.0.0.1:29772, upstream: "127.0.0.1:29761"\n',
    );
  });

  test('other context follows as ", key: value"; values that could be misread are quoted; a line stays one line', () => {
    const line = formatErrorLine(LEVEL_VALUES.notice, { listen: '127.0.0.1:0', reason: 'a, b', n: 3, list: ['x'], err: new Error('boom\nsecond') }, 'reloaded\r\nfake line', 1, NOW);
    expect(line).toBe('2026/12/02 05:20:31 [notice] 1#0: reloaded\\x0d\\x0afake line, listen: 127.0.0.1:0, reason: "a, b", n: 3, list: ["x"], error: "boom\\x0asecond"\n');
    expect(line.split('\n')).toHaveLength(2);
  });

  test("nginx's eight level names, never pino's", () => {
    expect((['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'] as const).map((l) => levelName(LEVEL_VALUES[l]))).toEqual([
      'debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg',
    ]);
    expect([levelName(10), levelName(60)]).toEqual(['debug', 'emerg']); // pino's trace and fatal
  });

  test('the JSON layout names levels as nginx does', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    logger.notice('a');
    logger.crit('b');
    logger.fatal('c');
    logger.debug({ connection: 1 }, 'd');
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(['notice', 'crit', 'emerg', 'debug']);
  });
});
