/**
 * Micro-benchmark of the HTTP router (not a test): ns per lookup with 10,000 server names on one
 * listen address, and per location lookup for a typical 20-location server.
 * Run: npx tsx bench/router.ts
 */
import { buildVirtualHosts } from '../src/http/router.js';
import { httpConfig, location, server } from '../test/helpers/http-config.js';

function bench(label: string, iterations: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(iterations, 100_000); i++) fn(i); // warm up the JIT
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (fn(i)) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  console.log(`${label.padEnd(52)} ${ns.toFixed(1).padStart(8)} ns/lookup${sink < 0 ? '' : ''}`);
}

const N = 10_000;
const servers = [];
for (let i = 0; i < N; i++) {
  const names = i % 10 === 0 ? [`*.wild${i}.test`] : i % 10 === 1 ? [`www.trail${i}.*`] : [`site${i}.example.test`, `www.site${i}.example.test`];
  servers.push(server({ names, listens: ['0.0.0.0:80'] }));
}
servers.push(server({ names: ['~^(?<user>[a-z]+)\\.users\\.test$'] }));
const vh = buildVirtualHosts(httpConfig(servers)).get('0.0.0.0:80')!;

const exactHosts = Array.from({ length: 1024 }, (_, i) => `site${(i * 7919) % N}.example.test`.replace(/site(\d*0|\d*1)\./, 'site2.'));
const mixedCase = exactHosts.map((h) => h.toUpperCase() + ':80');
const wildHosts = Array.from({ length: 1024 }, (_, i) => `a.b.wild${((i * 31) % 1000) * 10}.test`);
const trailHosts = Array.from({ length: 1024 }, (_, i) => `www.trail${((i * 31) % 1000) * 10 + 1}.co.uk`);
const regexHosts = Array.from({ length: 1024 }, (_, i) => `user${String.fromCharCode(97 + (i % 26))}.users.test`);
const uniqueMisses = Array.from({ length: 4096 }, (_, i) => `miss${i}.nowhere.test`);

console.log(`server_name lookup, ${N} servers on one listen (cache holds 1,000 hosts)`);
bench('exact, 1,024 distinct hosts (cache churn)', 2_000_000, (i) => vh.find(exactHosts[i & 1023]!));
bench('exact, same host (cache hit)', 5_000_000, () => vh.find('site42.example.test'));
bench('exact, uppercase with port', 2_000_000, (i) => vh.find(mixedCase[i & 1023]!));
bench('leading wildcard *.wildN.test', 2_000_000, (i) => vh.find(wildHosts[i & 1023]!));
bench('trailing wildcard www.trailN.*', 2_000_000, (i) => vh.find(trailHosts[i & 1023]!));
bench('regex with named capture (never cached)', 1_000_000, (i) => vh.find(regexHosts[i & 1023]!));
bench('miss → default server, 4,096 distinct hosts', 1_000_000, (i) => vh.find(uniqueMisses[i & 4095]!));

const s = buildVirtualHosts(httpConfig([server({
  locations: [
    location('/'), location('= /health'), location('^~ /static/'), location('/api/', 'proxy', [location('~ \\.json$')]),
    ...Array.from({ length: 12 }, (_, i) => location(`/app${i}/`, 'proxy')),
    location('~* \\.(png|jpg|gif)$'), location('~ ^/u/(?<user>[^/]+)'), location('@fallback'),
  ],
})])).get('0.0.0.0:80')!.find('').server;
const paths = ['/', '/health', '/static/a.css', '/api/v1/users', '/api/v1/x.json', '/app7/x/y', '/img/a.png', '/u/bob/x', '/app3', '/nothing/here'];
console.log('\nlocation lookup, 20 locations');
for (const p of paths) bench(`findLocation ${p}`, 2_000_000, () => s.findLocation(p));
