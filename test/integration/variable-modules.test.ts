/**
 * geo, split_clients and map's volatile through real sockets, http and stream. Every expected
 * value is what nginx 1.22 answered for the same config and requests (checked with ask-nginx).
 */
import net from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { request } from '../helpers/backend.js';

const GEO_HTTP = `http {
  geo $arg_a $h { default d; 127.0.0.0/8 lo; 127.0.0.1/32 one; ::1 v6; 2001:db8::/32 doc; 192.168.1.0/24 c; delete 192.168.1.0/24; 10.0.0.0/8 ten; 10.1.0.0/16 ten1; }
  geo $arg_a $r { ranges; default d; 10.0.0.0-10.0.0.255 a; 10.0.0.10-10.0.0.20 b; 10.0.1.10-10.0.1.20 e; 10.0.2.0-10.0.2.9 g; 10.0.2.10-10.0.2.20 h; }
  geo $g { default d; 127.0.0.1 local; }
  geo $p { default d; proxy 127.0.0.1; 10.1.0.0/16 x; 127.0.0.1 local; }
  geo $pr { default d; proxy 127.0.0.1; proxy 10.0.0.0/8; proxy_recursive; 10.1.0.0/16 x; 127.0.0.1 local; 192.0.2.1 doc; }
  server { listen 127.0.0.1:0; location / { return 200 "h=$h r=$r g=$g p=$p pr=$pr\\n"; } }
}`;

describe('geo (http)', () => {
  // nginx's answers, with "X-Forwarded-For: 192.0.2.1, 10.1.2.3" on every request
  test.each([
    ['127.0.0.1', 'h=one r=d'],
    ['127.0.0.2', 'h=lo r=d'],
    ['::1', 'h=v6 r=d'],
    ['::ffff:127.0.0.1', 'h=one r=d'],
    ['2001:db8::5', 'h=doc r=d'],
    ['192.168.1.5', 'h=d r=d'],
    ['10.1.2.3', 'h=ten1 r=d'],
    ['10.0.0.3', 'h=ten r=a'],
    ['10.0.0.12', 'h=ten r=b'],
    ['10.0.0.21', 'h=ten r=a'],
    ['10.0.1.15', 'h=ten r=e'],
    ['10.0.1.25', 'h=ten r=d'],
    ['10.0.2.9', 'h=ten r=g'],
    ['10.0.2.10', 'h=ten r=h'],
    ['junk', 'h=d r=d'],
    ['', 'h=d r=d'],
  ])('a=%s', async (a, expected) => {
    const proxy = await startProxy(GEO_HTTP);
    const r = await request(proxy.url(`/?a=${a}`), { headers: { 'X-Forwarded-For': '192.0.2.1, 10.1.2.3' } });
    expect(r.body).toBe(`${expected} g=local p=x pr=doc\n`);
  });

  test('without X-Forwarded-For the proxy itself is the client', async () => {
    const proxy = await startProxy(GEO_HTTP);
    const r = await request(proxy.url('/?a=1'));
    expect(r.body).toBe('h=d r=d g=local p=local pr=local\n');
  });
});

/** Send nothing, read what a stream `return` server sends until it closes. */
function streamValue(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    onTestFinished(() => { s.destroy(); });
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

describe('geo and split_clients (stream)', () => {
  test('the client address by default, CIDR and ranges', async () => {
    const proxy = await startProxy(`stream {
      geo $g { default d; 127.0.0.0/8 lo; }
      geo $remote_addr $r { ranges; default d; 127.0.0.0-127.0.0.9 low; }
      split_clients "k92x" $s { 0.5% a; * e; }
      server { listen 127.0.0.1:0; return "$g $r $s"; }
    }`);
    expect(await streamValue(proxy.port())).toBe('lo low a');
  });
});

/**
 * split_clients buckets: for each key, the values nginx gave for
 *   split_clients "${arg_k}x" $v { 0.5% a; 2% b; 10% c; 30.25% d; * e; }
 *   split_clients $arg_k $w { 25% a; 25.5% b; 0.01% c; 40% d; }
 * (keys past 90.51% of $w get the empty value).
 */
const NGINX_BUCKETS = 'k0 d d|k1 e d|k2 d a|k3 e b|k4 c d|k5 e a|k6 e b|k7 e d|k8 e b|k9 d a|k10 c b|k11 e a|k12 e a|k13 c d|k14 e a|k15 e b|k16 d d|k17 c d|k18 b b|k19 c |k20 c a|k21 e a|k22 d d|k23 e b|k24 e b|k25 d b|k26 e a|k27 e b|k28 e b|k29 e d|k30 d a|k31 e a|k32 e b|k33 e d|k34 e d|k35 d d|k36 e d|k37 e a|k38 d b|k39 e d|k40 e d|k41 e b|k42 d a|k43 c b|k44 e a|k45 e |k46 c a|k47 e d|k48 d d|k49 e a|k50 e d|k51 c b|k52 c a|k53 e d|k54 d a|k55 c a|k56 e b|k57 e d|k58 e d|k59 d b|k60 e a|k61 d d|k62 e d|k63 e b|k64 d d|k65 c d|k66 e a|k67 d b|k68 e a|k69 c d|k70 d b|k71 e d|k72 d b|k73 d b|k74 e b|k75 d |k76 e b|k77 e d|k78 e |k79 e b|khello e a|k e d|kabc d |kabcd e d|kabcde e b|k192.168.0.1 e d|k%C3%A9t%C3%A9 b b|k92 a d|k116 a a|k173 a d|k266 a d|k4564 e c|k5043 e c';

describe('split_clients (http)', () => {
  test('each key lands in the bucket nginx puts it in', async () => {
    const proxy = await startProxy(`http {
      split_clients "\${arg_k}x" $v { 0.5% a; 2% b; 10% c; 30.25% d; * e; }
      split_clients $arg_k $w { 25% a; 25.5% b; 0.01% c; 40% d; }
      server { listen 127.0.0.1:0; location / { return 200 "$arg_k $v $w"; } }
    }`);
    const got: string[] = [];
    for (const line of NGINX_BUCKETS.split('|')) {
      const key = line.split(' ')[0]!;
      got.push((await request(proxy.url(`/?k=${key}`))).body);
    }
    expect(got.join('|')).toBe(NGINX_BUCKETS);
  });
});

describe('map volatile', () => {
  // nginx: a map's value is kept for the request once read, unless the map is volatile
  test('a volatile map is computed again after its source changed', async () => {
    const proxy = await startProxy(`http {
      map $x $kept { a A; b B; default -; }
      map $x $fresh { volatile; a A; b B; default -; }
      server { listen 127.0.0.1:0; location / { set $x a; set $k1 $kept; set $f1 $fresh; set $x b; return 200 "$k1$kept $f1$fresh"; } }
    }`);
    expect((await request(proxy.url('/'))).body).toBe('AA AB');
  });
});
