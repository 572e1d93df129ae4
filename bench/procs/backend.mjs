// @ts-check
/**
 * The benchmark backends, in one process pinned beside wrk: a raw-socket HTTP/1.1 server with
 * fixed responses (so the backend costs as little as possible and the proxy is what gets measured),
 * a ws echo server (and a client-bound message stream under /ws/stream), and a TCP source that
 * streams as fast as the reader takes it.
 * Prints one JSON line with the bound ports once everything listens.
 *   node bench/procs/backend.mjs
 */
import net from 'node:net';
import { WebSocketServer } from 'ws';

const HOST = '127.0.0.1';
/**
 * Response heads as a web server sends them (Server, Date, Content-Type, Content-Length,
 * Connection, ETag, Cache-Control, Last-Modified, Accept-Ranges: ~250 bytes), Date kept current
 * once a second; `BENCH_BACKEND_HEAD=minimal` (or `--minimal-head`) gives the old two-field head
 * (Content-Type, Content-Length) for comparison with earlier figures.
 */
const MINIMAL_HEAD = process.env.BENCH_BACKEND_HEAD === 'minimal' || process.argv.includes('--minimal-head');
const BIG_BODY = 64 * 1024;
const SMALL_BODY = Buffer.from('hello', 'latin1');
const BIG_BODY_BYTES = Buffer.alloc(BIG_BODY, 'x');
const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 5, 10, 30, 0)).toUTCString();

/** @param {string} type @param {Buffer} body @param {boolean} close */
function response(type, body, close) {
  const head = MINIMAL_HEAD
    ? `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`
    : 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n' +
      `Date: ${new Date().toUTCString()}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${body.length}\r\n` +
      `Connection: ${close ? 'close' : 'keep-alive'}\r\n` +
      `ETag: "6959d1a8-${body.length.toString(16)}"\r\nCache-Control: public, max-age=60\r\n` +
      `Last-Modified: ${LAST_MODIFIED}\r\nAccept-Ranges: bytes\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const SMALL_TYPE = MINIMAL_HEAD ? 'text/plain' : 'text/plain; charset=utf-8';
let SMALL = response(SMALL_TYPE, SMALL_BODY, false);
let SMALL_CLOSE = response(SMALL_TYPE, SMALL_BODY, true);
let BIG = response('application/octet-stream', BIG_BODY_BYTES, false);
let BIG_CLOSE = response('application/octet-stream', BIG_BODY_BYTES, true);
if (!MINIMAL_HEAD) {
  // Date changes once a second (as nginx's cached time): the responses are rebuilt then, not per request.
  setInterval(() => {
    SMALL = response(SMALL_TYPE, SMALL_BODY, false);
    SMALL_CLOSE = response(SMALL_TYPE, SMALL_BODY, true);
    BIG = response('application/octet-stream', BIG_BODY_BYTES, false);
    BIG_CLOSE = response('application/octet-stream', BIG_BODY_BYTES, true);
  }, 1000).unref();
}
const CLOSE_RE = /\r\nconnection:[ \t]*close/i;
const KEEP_RE = /\r\nconnection:[ \t]*keep-alive/i;
const LENGTH_RE = /\r\ncontent-length:[ \t]*(\d+)/i;

/** @param {net.Socket} sock */
function onHttp(sock) {
  sock.setNoDelay(true);
  sock.on('error', () => sock.destroy());
  let pending = '';
  let skip = 0; // request body bytes still to discard (the benchmark only sends GETs, but a body must not be read as a head)
  sock.on('data', (chunk) => {
    let text = chunk.toString('latin1');
    if (skip > 0) {
      const n = Math.min(skip, text.length);
      skip -= n;
      text = text.slice(n);
    }
    pending += text;
    /** @type {Buffer[]} */
    const out = [];
    let close = false;
    let end;
    while (skip === 0 && (end = pending.indexOf('\r\n\r\n')) !== -1) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      const sp = head.indexOf(' ');
      const path = head.slice(sp + 1, head.indexOf(' ', sp + 1));
      const http11 = head.slice(0, head.indexOf('\r\n')).endsWith('HTTP/1.1');
      if (http11 ? CLOSE_RE.test(head) : !KEEP_RE.test(head)) close = true;
      out.push(path.startsWith('/64k') ? (close ? BIG_CLOSE : BIG) : close ? SMALL_CLOSE : SMALL);
      const len = LENGTH_RE.exec(head);
      if (len !== null) {
        const n = Math.min(Number(len[1]), pending.length);
        pending = pending.slice(n);
        skip = Number(len[1]) - n;
      }
      if (close) break;
    }
    if (out.length === 1) sock.write(out[0]);
    else if (out.length > 1) sock.write(Buffer.concat(out));
    if (close) sock.end();
  });
}

const CHUNK = Buffer.alloc(256 * 1024, 'y');
/** @param {net.Socket} sock */
function onTcp(sock) {
  sock.setNoDelay(true);
  sock.on('error', () => sock.destroy());
  sock.resume();
  const pump = () => {
    while (!sock.destroyed && sock.write(CHUNK));
  };
  sock.on('drain', pump);
  pump();
}

/** @param {net.Server} server @returns {Promise<number>} */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : 0);
    });
  });
}

const httpPort = await listen(net.createServer(onHttp));
const tcpPort = await listen(net.createServer(onTcp));
const wss = new WebSocketServer({ host: HOST, port: 0, backlog: 4096, perMessageDeflate: false, clientTracking: false });
const STREAM_MESSAGE = Buffer.alloc(64, 's');
const STREAM_BUFFERED_MAX = 256 * 1024;
const STREAM_BURSTS_PER_TICK = 16;
/**
 * Client-bound stream (paths under /ws/stream): the client's first message is "N B"; the backend
 * then sends N 64-byte binary messages (one ws.send each) in bursts of B written together (socket
 * corked around the burst: one write per burst), as fast as the socket takes them (bounded by
 * bufferedAmount).
 * @param {import('ws').WebSocket} ws @param {number} n @param {number} burst
 */
function stream(ws, n, burst) {
  // @ts-ignore: ws keeps its net.Socket in _socket (cork/uncork is all we need of it).
  const sock = /** @type {import('node:net').Socket} */ (ws._socket);
  const pump = () => {
    let bursts = 0;
    while (n > 0 && bursts < STREAM_BURSTS_PER_TICK && ws.bufferedAmount < STREAM_BUFFERED_MAX) {
      sock.cork();
      for (let i = 0; i < burst && n > 0; i++, n--) ws.send(STREAM_MESSAGE, { binary: true });
      sock.uncork();
      bursts++;
    }
    if (n > 0 && ws.readyState === ws.OPEN) {
      if (bursts === 0) setTimeout(pump, 1);
      else setImmediate(pump);
    }
  };
  pump();
}
wss.on('connection', (ws, req) => {
  ws.on('error', () => ws.terminate());
  if (req.url !== undefined && req.url.startsWith('/ws/stream')) {
    ws.once('message', (data) => {
      const [n, burst] = String(data).split(' ').map(Number);
      stream(ws, n ?? 0, Math.max(1, burst || 1));
    });
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(/** @type {Buffer} */ (data), { binary: isBinary }));
});
await new Promise((resolve) => wss.once('listening', resolve));
const wsAddr = wss.address();
const wsPort = typeof wsAddr === 'object' ? wsAddr.port : 0;
process.stdout.write(`${JSON.stringify({ http: httpPort, ws: wsPort, tcp: tcpPort })}\n`);
