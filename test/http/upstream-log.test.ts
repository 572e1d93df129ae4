import { describe, expect, it } from 'vitest';
import { invalidResponseMessage } from '../../src/http/upstream-log.js';
import { parseResponseHead } from '../../src/wire/http1-response.js';

const PHASE = ' while reading response header from upstream';

// nginx 1.22's error log lines for these upstream heads (checked with ask-nginx and a raw backend):
// the lines of a head end in CRLF or a bare LF alike, and the first bad byte is named. (nginx 1.22
// takes differing Content-Length lines; we refuse them and say so as later nginx versions do.)
describe('invalidResponseMessage', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n', 'upstream sent invalid header: "Bad\\x20..."'],
    ['HTTP/1.1 200 OK\nBad Header: x\nContent-Length: 0\n\n', 'upstream sent invalid header: "Bad\\x20..."'],
    ['HTTP/1.1 200 OK\nX: a\rb\nContent-Length: 0\n\n', 'upstream sent invalid header: "X: a\\x0d..."'],
    ['HTTP/1.1 2x0 OK\nContent-Length: 2\n\n', 'upstream sent no valid HTTP/1.0 header'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'upstream sent duplicate header line: "Content-Length: 2", previous value: "Content-Length: 1"'],
    ['HTTP/1.1 200 OK\r\n: x\r\n\r\n', 'upstream sent invalid header: "\\x3a..."'],
  ])('%j', (head, message) => {
    expect(parseResponseHead(head, 'GET')).toBeNull();
    expect(invalidResponseMessage(head, false)).toBe(message + PHASE);
  });

  it('says what is known without a whole head', () => {
    expect(invalidResponseMessage(null, false)).toBe(`upstream sent invalid header${PHASE}`);
    expect(invalidResponseMessage(null, true)).toBe(`upstream sent too big header${PHASE}`);
  });
});
