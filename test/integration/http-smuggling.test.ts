/**
 * Request smuggling probes sent on a raw socket through the proxy to a raw backend that records
 * every byte: each probe is either refused with 400 (and nothing reaches the backend) or the
 * backend sees exactly one request.
 */
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { countRequests, rawExchange, startRawBackend, statuses } from '../helpers/backend.js';

const PROBES: [string, string][] = [
  ['CL.TE', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED'],
  ['TE.CL', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n'],
  ['TE.TE space before colon', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\nQ\r\n\r\n'],
  ['TE.TE xchunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['TE.TE chunked, identity', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['TE.TE tab', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ['TE.TE double header', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n'],
  ['TE.TE obs-fold', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
  ['duplicate CL', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['CL list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  // Bare LF line ends are accepted (as nginx); they must not loosen the framing rules.
  ['bare LF head', 'POST / HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello'],
  ['bare LF, TE + CL', 'POST / HTTP/1.1\nHost: x\nContent-Length: 4\nTransfer-Encoding: chunked\n\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['bare LF hiding TE in a value', 'POST / HTTP/1.1\r\nHost: x\r\nX: a\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ['bare LF in chunk framing', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['bare CR line end', 'POST / HTTP/1.1\r\nHost: x\rContent-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nGET /smuggled HTTP/1.1\r\n\r\n'],
  ['chunk size overflow', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nA\r\n0\r\n\r\n'],
  ['missing CRLF after chunk', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nAGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n'],
  ['NUL in header', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\x00\r\n\r\n'],
];

describe('request smuggling probes', () => {
  it.each(PROBES)('%s is refused or forwarded as exactly one request', async (_name, probe) => {
    const backend = await startRawBackend((socket, all) => {
      // Answer once a full head arrived; the body (if any) is ignored on purpose.
      if (all.includes('\r\n\r\n') && !socket.writableEnded) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const out = await rawExchange(proxy.port(), probe, 600);
    const codes = statuses(out);
    const seen = backend.received.reduce((n, raw) => n + countRequests(raw), 0);
    expect(backend.received.join('')).not.toContain('/smuggled');
    if (codes[0] === 400) {
      expect(seen).toBe(0);
      expect(codes).toEqual([400]);
    } else {
      expect(seen).toBe(1);
    }
  });

  it('re-frames a bare-LF request with CRLF before forwarding it', async () => {
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('hello')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'POST /a HTTP/1.1\nHost: x\nX-A: 1\nContent-Length: 5\n\nhello');
    expect(statuses(out)).toEqual([200]);
    const sent = backend.received.join('');
    expect(sent).toMatch(/^POST \/a HTTP\/1\.1\r\n[\s\S]*\r\nX-A: 1\r\n[\s\S]*\r\nContent-Length: 5\r\n[\s\S]*\r\n\r\nhello$/);
    // Every LF the upstream sees belongs to a CRLF.
    expect(sent.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('never forwards a request carrying both Content-Length and Transfer-Encoding', async () => {
    const backend = await startRawBackend((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const out = await rawExchange(proxy.port(), PROBES[0]![1]);
    expect(statuses(out)).toEqual([400]);
    expect(backend.received).toEqual([]);
  });
});
