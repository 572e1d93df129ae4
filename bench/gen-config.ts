/**
 * Writes a hosting-platform-sized config: N server blocks (default 10,000), each with a name,
 * a wildcard alias, two locations and an upstream of two peers. Used by bench/config-test.sh to
 * time `tsproxy -t` against `nginx -t` on the same file.
 *   tsx bench/gen-config.ts OUT.conf [N] [--nginx]
 */
import fs from 'node:fs';

const [out, nArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const nginx = process.argv.includes('--nginx');
if (out === undefined) {
  process.stderr.write('usage: tsx bench/gen-config.ts OUT.conf [N] [--nginx]\n');
  process.exit(2);
}
const n = Number(nArg ?? 10_000);
const parts: string[] = [];
parts.push(nginx ? 'events { worker_connections 1024; }\n' : 'events { worker_connections 1024; }\n');
parts.push('http {\n');
for (let i = 0; i < n; i++) {
  const a = 10_000 + (i % 50_000);
  parts.push(
    `    upstream site${i} {\n        server 127.0.0.1:${a};\n        server 127.0.0.1:${a + 1} backup;\n    }\n` +
      `    server {\n        listen 127.0.0.1:8080;\n        server_name site${i}.example.test *.site${i}.example.test;\n` +
      `        location / {\n            proxy_set_header Host $host;\n            proxy_pass http://site${i};\n        }\n` +
      `        location /static/ {\n            return 200 "site ${i}";\n        }\n    }\n`,
  );
}
parts.push('}\n');
fs.writeFileSync(out, parts.join(''));
process.stderr.write(`wrote ${out}: ${n} servers\n`);
