/**
 * Quick HTTP throughput check (not a test): a node:http hello-world backend and tsproxy in two
 * separate processes, then wrk (-t1 -c50, keep-alive) against the backend directly and through
 * tsproxy. Prints req/s for both.
 *   npx tsx bench/http-quick.ts [seconds] [--cpu-prof] [--compare]
 * --nginx also measures nginx (one worker, keepalive upstream; installed with apt-get when missing).
 * --compare also measures a minimal node:http proxy (the reference point of the benchmark issue).
 * --cpu-prof writes a V8 profile of the proxy process into ./bench-profiles/.
 * wrk is installed with apt-get when missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { announcedPort } from './lib/procs.js';
import { serveInlineConfig } from './lib/inline-proxy.js';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const mode = process.argv[2];

if (mode === '--backend') {
  const http = await import('node:http');
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello world\n');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as import('node:net').AddressInfo;
    process.stdout.write(`PORT ${addr.port}\n`);
  });
} else if (mode === '--node-proxy') {
  // The reference point from the benchmark issue: a minimal node:http proxy with a keep-alive agent.
  const http = await import('node:http');
  const backendPort = Number(process.argv[3]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: backendPort, path: req.url, method: req.method, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PORT ${(server.address() as import('node:net').AddressInfo).port}\n`);
  });
} else if (mode === '--proxy') {
  const backendPort = Number(process.argv[3]);
  const text = `http {
    upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
    server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
  }`;
  await serveInlineConfig(text, 'bench.conf');
} else {
  await main();
}


function wrk(port: number, seconds: number): number {
  const out = spawnSync('wrk', ['-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out.stdout);
  if (errors) process.stdout.write(`  wrk: ${errors[0]}\n`);
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
  const profile = process.argv.includes('--cpu-prof');
  if (spawnSync('which', ['wrk']).status !== 0) spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  const tsx = ['--import', 'tsx'];
  const backend = spawn(process.execPath, [...tsx, self, '--backend'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const backendPort = await announcedPort(backend);
    const profArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(root, 'bench-profiles')] : [];
    const proxy = spawn(process.execPath, [...profArgs, ...tsx, self, '--proxy', String(backendPort)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const proxyPort = await announcedPort(proxy);
      wrk(backendPort, 2); // warm-up
      wrk(proxyPort, 2);
      const direct = wrk(backendPort, seconds);
      const proxied = wrk(proxyPort, seconds);
      const nginxProxied = process.argv.includes('--nginx') ? await measureNginx(backendPort, seconds) : 0;
      let nodeProxied = 0;
      if (process.argv.includes('--compare')) {
        const np = spawn(process.execPath, [...tsx, self, '--node-proxy', String(backendPort)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
        try {
          const npPort = await announcedPort(np);
          wrk(npPort, 2);
          nodeProxied = wrk(npPort, seconds);
        } finally {
          np.kill();
        }
      }
      process.stdout.write(`backend direct         : ${direct.toFixed(0)} req/s\n`);
      process.stdout.write(`through tsproxy        : ${proxied.toFixed(0)} req/s (${((proxied / direct) * 100).toFixed(0)}% of direct)\n`);
      if (nginxProxied > 0) {
        process.stdout.write(`through nginx (1 worker): ${nginxProxied.toFixed(0)} req/s; tsproxy = ${(proxied / nginxProxied).toFixed(2)}x nginx\n`);
      }
      if (nodeProxied > 0) process.stdout.write(`through node:http proxy: ${nodeProxied.toFixed(0)} req/s (${((nodeProxied / direct) * 100).toFixed(0)}% of direct)\n`);
    } finally {
      proxy.kill('SIGINT');
      await new Promise((r) => proxy.once('exit', r));
    }
  } finally {
    backend.kill();
  }
}

/** nginx with one worker proxying to the same backend, on a port it picks from a free range. */
async function measureNginx(backendPort: number, seconds: number): Promise<number> {
  if (spawnSync('which', ['nginx']).status !== 0) spawnSync('apt-get', ['install', '-y', 'nginx'], { stdio: 'inherit' });
  const fs = await import('node:fs');
  const os = await import('node:os');
  const net = await import('node:net');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-nginx-'));
  // nginx cannot bind port 0 and report it: take a free port from the kernel first (bench only).
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as import('node:net').AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const conf = `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off;
  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; } } }`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const nginx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'inherit' });
  try {
    for (let i = 0; i < 50; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const c = net.connect({ host: '127.0.0.1', port }, () => {
          c.destroy();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    wrk(port, 2);
    return wrk(port, seconds);
  } finally {
    nginx.kill('SIGQUIT');
    await new Promise((r) => nginx.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
