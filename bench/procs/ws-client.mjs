// @ts-check
/**
 * WebSocket load for the benchmark (runs beside the backend, never on the proxy core).
 *   echo: open CONNS sockets, print "ready", wait for "go" on stdin, then push MESSAGES 64-byte
 *         binary messages through the echo backend, WINDOW in flight per socket; print
 *         {"messages","elapsedMs"} and exit.
 *   stream: open CONNS raw sockets to URL (a /ws/stream path), print "ready", wait for "go", then
 *         ask the backend for MESSAGES/CONNS 64-byte messages on each socket, sent in bursts of
 *         BURST, and count the bytes until all arrived (66 bytes a frame); print
 *         {"messages","elapsedMs"} and exit.
 *   idle: open CONNS sockets (at most 100 handshakes at a time), print {"open": n} and hold them
 *         until stdin closes or "close" arrives.
 *   node bench/procs/ws-client.mjs echo URL CONNS MESSAGES WINDOW
 *   node bench/procs/ws-client.mjs stream URL CONNS MESSAGES - BURST
 *   node bench/procs/ws-client.mjs idle URL CONNS
 */
import net from 'node:net';
import WebSocket from 'ws';

const [mode, url, connsArg, messagesArg, windowArg, burstArg] = process.argv.slice(2);
if (url === undefined || (mode !== 'echo' && mode !== 'idle' && mode !== 'stream')) {
  process.stderr.write('usage: ws-client.mjs echo|stream|idle URL CONNS [MESSAGES [WINDOW]]\n');
  process.exit(2);
}
const conns = Number(connsArg ?? 1);
const HANDSHAKES_IN_FLIGHT = 100;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** @returns {Promise<WebSocket>} */
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
  });
}

/**
 * Idle sockets need no frame handling, so they are opened with a raw handshake: the client side of
 * the load core then costs a fraction of a ws client and 5,000 sockets open in a few seconds.
 * @returns {Promise<net.Socket>}
 */
function openRaw() {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const timer = setTimeout(() => sock.destroy(new Error('handshake timed out')), HANDSHAKE_TIMEOUT_MS);
    sock.once('error', reject);
    sock.once('connect', () =>
      sock.write(
        `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    let head = '';
    const onData = (/** @type {Buffer} */ d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      clearTimeout(timer);
      sock.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`handshake answered ${head.split('\r\n')[0]}`));
      else resolve(sock);
    };
    sock.on('data', onData);
  });
}

/** @template T @param {number} n @param {() => Promise<T>} open @returns {Promise<T[]>} */
async function openAll(n, open) {
  /** @type {T[]} */
  const all = [];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      all.push(await open());
    }
  };
  await Promise.all(Array.from({ length: Math.min(HANDSHAKES_IN_FLIGHT, n) }, lane));
  return all;
}

/** @param {number} n @returns {Promise<WebSocket[]>} */
function openMany(n) {
  return openAll(n, async () => {
    const ws = await open();
    ws.on('error', () => {});
    return ws;
  });
}

/** @returns {Promise<void>} */
function waitForStdin(word) {
  return new Promise((resolve) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => {
      buf += d;
      if (buf.includes(word)) resolve();
    });
    process.stdin.on('end', () => resolve());
  });
}

function fail(/** @type {unknown} */ err) {
  process.stderr.write(`ws-client: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

if (mode === 'idle') {
  const sockets = await openAll(conns, openRaw).catch(fail);
  for (const s of sockets) s.on('error', () => {});
  process.stdout.write(`${JSON.stringify({ open: sockets.length })}\n`);
  await waitForStdin('close');
  process.exit(0);
}

/** A masked client text frame (payload under 126 bytes). @param {string} text */
function maskedText(text) {
  const payload = Buffer.from(text, 'utf8');
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i & 3];
  return out;
}

if (mode === 'stream') {
  const STREAM_FRAME_BYTES = 2 + 64;
  const sockets = await openAll(conns, openRaw).catch(fail);
  const per = Math.ceil(Number(messagesArg ?? 200_000) / conns);
  process.stdout.write('ready\n');
  await waitForStdin('go');
  let bytes = 0;
  const want = per * conns * STREAM_FRAME_BYTES;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    for (const s of sockets) {
      s.on('data', (/** @type {Buffer} */ d) => {
        bytes += d.length;
        if (bytes >= want) resolve(undefined);
      });
      s.on('error', fail);
      s.on('close', () => bytes < want && fail(new Error('a socket closed during the run')));
      s.write(maskedText(`${per} ${Number(burstArg ?? 1)}`));
    }
  });
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${JSON.stringify({ messages: Math.floor(bytes / STREAM_FRAME_BYTES), elapsedMs })}\n`);
  process.exit(0);
}

const total = Number(messagesArg ?? 100_000);
const window = Number(windowArg ?? 8);
const sockets = await openMany(conns).catch(fail);
const payload = Buffer.alloc(64, 'm');
process.stdout.write('ready\n');
await waitForStdin('go');
let sent = 0;
let received = 0;
const t0 = process.hrtime.bigint();
await new Promise((resolve) => {
  for (const ws of sockets) {
    ws.on('message', () => {
      received++;
      if (received === total) resolve(undefined);
      else if (sent < total) {
        sent++;
        ws.send(payload);
      }
    });
    ws.on('close', () => fail(new Error('a socket closed during the run')));
    for (let i = 0; i < window && sent < total; i++) {
      sent++;
      ws.send(payload);
    }
  }
});
const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(`${JSON.stringify({ messages: received, elapsedMs })}\n`);
process.exit(0);
