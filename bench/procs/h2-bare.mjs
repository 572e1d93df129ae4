// @ts-check
/**
 * The ceiling of HTTP/2 over TLS in node: a bare `node:http2` secure server that answers every
 * request with a fixed small response carrying the fields tsproxy sends for the bench backend's
 * realistic head (Server, Date, Content-Type, Content-Length, ETag, Cache-Control, Last-Modified,
 * Accept-Ranges; body "hello"). No proxying, no routing: what node's http2 + TLS cost by
 * themselves per request, to set beside tsproxy's figure (bench/cpu-per-request.sh takes this
 * file in place of a dist/cli.js, see there).
 *
 *   node bench/procs/h2-bare.mjs stream|compat|proxy CERT KEY PORT [BACKEND_PORT]
 *
 * stream: session 'stream' events, stream.respond() + stream.end(body);
 * compat: the http1-like 'request' API (res.writeHead() + res.end(body));
 * proxy: as stream, but each request is first sent to the HTTP/1.1 backend on BACKEND_PORT over
 *   a pool of keep-alive `net` sockets (a fixed request head, the response head found by its
 *   blank line and Content-Length, nothing validated or rewritten) and its body is the answer:
 *   the least an HTTP/2-to-HTTP/1.1 proxy does in node, as a floor for tsproxy's figure.
 * Server settings are tsproxy's (max concurrent streams 128, 256 KiB stream window, 1 MiB session window).
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

const [mode = 'stream', cert, key, port, backendPort] = process.argv.slice(2);
if (cert === undefined || key === undefined || port === undefined) {
  process.stderr.write('usage: node bench/procs/h2-bare.mjs stream|compat CERT KEY PORT\n');
  process.exit(2);
}
const BODY = Buffer.from('hello', 'latin1');
const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 5, 10, 30, 0)).toUTCString();
let date = new Date().toUTCString();
setInterval(() => (date = new Date().toUTCString()), 1000).unref();

/** @returns {import('node:http2').OutgoingHttpHeaders} */
function headers() {
  return {
    ':status': 200,
    server: 'tsproxy',
    date,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': BODY.length,
    etag: '"6959d1a8-5"',
    'cache-control': 'public, max-age=60',
    'last-modified': LAST_MODIFIED,
    'accept-ranges': 'bytes',
  };
}

const server = http2.createSecureServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
  settings: { maxConcurrentStreams: 128, initialWindowSize: 256 * 1024, enablePush: false },
});
server.on('session', (s) => {
  s.on('error', () => {});
  try {
    s.setLocalWindowSize(1024 * 1024);
  } catch {
    // torn down already
  }
});
if (mode === 'proxy') {
  const request = Buffer.from('GET /small HTTP/1.1\r\nHost: backend\r\nConnection: keep-alive\r\n\r\n', 'latin1');
  /** @type {import('node:net').Socket[]} */
  const idle = [];
  /** @param {import('node:http2').ServerHttp2Stream} stream */
  const forward = (stream) => {
    const sock = idle.pop() ?? net.connect(Number(backendPort), '127.0.0.1').on('error', () => {});
    let got = Buffer.alloc(0);
    const onData = (/** @type {Buffer} */ chunk) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.toString('latin1', 0, end);
      const at = head.toLowerCase().indexOf('content-length:');
      const length = at < 0 ? 0 : parseInt(head.slice(at + 15), 10);
      if (got.length < end + 4 + length) return;
      sock.off('data', onData);
      idle.push(sock);
      if (stream.destroyed) return;
      stream.respond(headers());
      stream.end(got.subarray(end + 4, end + 4 + length));
    };
    sock.on('data', onData);
    sock.write(request);
  };
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    forward(stream);
  });
} else if (mode === 'compat') {
  server.on('request', (req, res) => {
    const h = headers();
    delete h[':status'];
    res.writeHead(200, h);
    res.end(BODY);
  });
} else {
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond(headers());
    stream.end(BODY);
  });
}
server.listen(Number(port), '127.0.0.1');
// Exit normally on a signal, so `node --cpu-prof` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
