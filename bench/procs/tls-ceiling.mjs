// @ts-check
/**
 * What Node's TLS costs by itself (issue 18 "what bounds it"): a server answering every request
 * with a fixed response of the size a small proxied response has (the bench backend's realistic
 * head as tsproxy forwards it, ~300 bytes, body "hello"), no proxying behind it. bench/cpu-ab.sh
 * runs it in place of a tsproxy build (a CLI ending in .mjs): the CPU per request it costs is the
 * floor for tsproxy on the same TLS load.
 *
 *   node bench/procs/tls-ceiling.mjs https|tls|tcp PORT CERT KEY
 *   https: node:https (its HTTP parser, one res.end per response)
 *   tls:   tls.Server with a hand-rolled head scan, one socket.write per response: TLS and
 *          sockets only, the least any server on node:tls can do
 *   tcp:   the same on a plain net.Server (http://): tls minus tcp is what TLS itself costs
 * Both answer `Connection: close` requests by closing after the response. Session tickets are on
 * (node's default: stateless, no session cache) except under MODE=tlsnew-full.
 */
import { constants } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

const [kind, portText, certFile, keyFile] = process.argv.slice(2);
/** @type {tls.TlsOptions} */
const options = kind === 'tcp' ? {} : { cert: fs.readFileSync(String(certFile)), key: fs.readFileSync(String(keyFile)) };
// cpu-ab.sh's resumption-off mode: no tickets (and node:tls keeps no session cache by itself).
if (process.env.MODE === 'tlsnew-full') options.secureOptions = constants.SSL_OP_NO_TICKET;
const BODY = 'hello';
const HEAD_FIELDS = [
  ['Server', 'tsproxy'], ['Date', new Date().toUTCString()], ['Content-Type', 'text/plain; charset=utf-8'],
  ['Content-Length', String(BODY.length)], ['Connection', 'keep-alive'], ['ETag', '"6959d1a8-5"'],
  ['Cache-Control', 'public, max-age=60'], ['Last-Modified', 'Mon, 05 Jan 2026 10:30:00 GMT'], ['Accept-Ranges', 'bytes'],
];
const head = (close) => `HTTP/1.1 200 OK\r\n${HEAD_FIELDS.map(([n, v]) => `${n}: ${n === 'Connection' && close ? 'close' : v}\r\n`).join('')}\r\n`;
const KEEP = Buffer.from(head(false) + BODY, 'latin1');
const CLOSE = Buffer.from(head(true) + BODY, 'latin1');
const CLOSE_RE = /\r\nconnection:[ \t]*close/i;

let server;
if (kind === 'https') {
  server = https.createServer({ ...options, keepAliveTimeout: 75_000 }, (req, res) => {
    res.writeHead(200, HEAD_FIELDS.filter(([n]) => n !== 'Connection' && n !== 'Date'));
    res.end(BODY);
  });
} else {
  const create = kind === 'tcp' ? (/** @type {(s: net.Socket) => void} */ l) => net.createServer(l) : (/** @type {(s: net.Socket) => void} */ l) => tls.createServer(options, l);
  server = create((sock) => {
    sock.on('error', () => sock.destroy());
    let pending = '';
    sock.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let end;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        const close = CLOSE_RE.test(pending.slice(0, end));
        pending = pending.slice(end + 4);
        if (close) return void sock.end(CLOSE);
        sock.write(KEEP);
      }
    });
  });
}
server.listen({ host: '127.0.0.1', port: Number(portText), backlog: 4096 });
// A clean exit on a signal (so `node --cpu-prof` writes its profile).
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(sig, () => process.exit(0));
