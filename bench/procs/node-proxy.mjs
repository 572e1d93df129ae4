// @ts-check
/**
 * The Node.js peers tsproxy is compared with, one per process (pinned to the proxy core):
 *   minimal       a hand-written node:http proxy (keep-alive agent, raw pipe for upgrades, net pipe for TCP)
 *   http-proxy    node-http-proxy 1.18 with a keep-alive agent
 *   http-proxy-3  http-proxy-3 with a keep-alive agent
 *   hello         a bare node:http server answering by itself (the node:http ceiling, no proxying)
 * Paths under /ws go to the ws backend, the rest to the HTTP backend. Prints one JSON line with
 * the bound ports once listening.
 *   node bench/procs/node-proxy.mjs IMPL DEPS_DIR HTTP_UP WS_UP TCP_UP
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const HOST = '127.0.0.1';
const [impl, depsDir, httpUp, wsUp, tcpUp] = process.argv.slice(2);
if (impl === undefined || depsDir === undefined) {
  process.stderr.write('usage: node-proxy.mjs IMPL DEPS_DIR HTTP_PORT WS_PORT TCP_PORT\n');
  process.exit(2);
}
const httpPort = Number(httpUp);
const wsPort = Number(wsUp);
const tcpPort = Number(tcpUp);
// Same pool size as nginx's `keepalive 64`.
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });

/** @param {string | undefined} url */
const isWs = (url) => url !== undefined && url.startsWith('/ws');

/** @param {net.Socket} a @param {net.Socket} b */
function pipeBoth(a, b) {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

/** @returns {http.Server} */
function minimal() {
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.connection;
    const preq = http.request({ host: HOST, port: isWs(req.url) ? wsPort : httpPort, method: req.method, path: req.url, headers, agent }, (pres) => {
      res.writeHead(pres.statusCode ?? 502, pres.headers);
      pres.pipe(res);
    });
    preq.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(preq);
  });
  server.on('upgrade', (req, sock, head) => {
    const up = net.connect(wsPort, HOST);
    let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    up.write(`${raw}\r\n`);
    if (head.length > 0) up.write(head);
    pipeBoth(/** @type {net.Socket} */ (sock), up);
  });
  return server;
}

/** @param {string} pkg @returns {http.Server} */
function library(pkg) {
  const require = createRequire(path.join(path.resolve(depsDir), 'package.json'));
  const lib = require(pkg);
  const proxy = lib.createProxyServer({ agent });
  proxy.on('error', (/** @type {Error} */ _err, /** @type {any} */ _req, /** @type {any} */ res) => {
    try {
      if (res instanceof http.ServerResponse) {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      } else res?.destroy?.();
    } catch {
      // the client is gone already
    }
  });
  const web = { target: `http://${HOST}:${httpPort}` };
  const ws = { target: `ws://${HOST}:${wsPort}` };
  const server = http.createServer((req, res) => proxy.web(req, res, isWs(req.url) ? { target: `http://${HOST}:${wsPort}` } : web));
  server.on('upgrade', (req, sock, head) => {
    sock.on('error', () => sock.destroy());
    proxy.ws(req, sock, head, ws);
  });
  return server;
}

function hello() {
  const small = 'hello';
  const big = Buffer.alloc(64 * 1024, 'x');
  return http.createServer((req, res) => {
    const body = req.url !== undefined && req.url.startsWith('/64k') ? big : small;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
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

/** @type {Record<string, () => http.Server>} */
const impls = { minimal, hello, 'http-proxy': () => library('http-proxy'), 'http-proxy-3': () => library('http-proxy-3') };
const make = impls[impl];
if (make === undefined) {
  process.stderr.write(`unknown implementation ${impl}\n`);
  process.exit(2);
}
const server = make();
server.on('connection', (s) => s.setNoDelay(true));
server.on('clientError', (_err, sock) => sock.destroy());
const ports = { http: await listen(server), tcp: 0 };
// Only the hand-written proxy gets a TCP pipe: the libraries are HTTP-only.
if (impl === 'minimal') ports.tcp = await listen(net.createServer((c) => pipeBoth(c, net.connect(tcpPort, HOST))));
process.stdout.write(`${JSON.stringify(ports)}\n`);
