/**
 * PCRE constructs that real nginx configs carry, through real routing: server_name, location,
 * rewrite and map in http, server_name and map in stream. Expected answers are nginx 1.22's for
 * the same config (checked with /work/shared/tools/ask-nginx), except where tsproxy sees
 * characters and nginx bytes (noted at the case).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { formatConfigError } from '../../src/config/format.js';
import { request } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';

describe('PCRE in http routing', () => {
  it('server_name, location, rewrite and map read (?P<name>), \\Q..\\E, \\p{..}, (?i) and $ as nginx does', async () => {
    const proxy = await startProxy(String.raw`http {
      map $uri $kind {
        ~^/m/(?P<ext>\w+)\.\Qtar.gz\E$ "tarball-$ext";
        ~*^/m/(?i)README$ readme;
        default other;
      }
      server { listen 127.0.0.1:0;
        server_name ~^(?P<sub>[a-z]+)\.(?P<dom>example)\.test$;
        location ~ ^/who$ { return 200 "sub=$sub dom=$dom"; }
      }
      server { listen 127.0.0.1:0 default_server;
        rewrite ^/old/(?P<rest>.*)$ /new/$rest last;
        location /new/ { return 200 "new $uri rest=$rest"; }
        location /m/ { return 200 "map $kind ext=$ext"; }
        location ~ "^/p/\p{L}+$" { return 200 "p-letter"; }
        location ~ "^/q/\Qa.b\E$" { return 200 "quoted"; }
        location ~ ^/n/x$ { return 200 "dollar-before-newline"; }
        location ~ ^/z/x\z { return 200 "z"; }
        location ~ ^/i/(?i)abc$ { return 200 "inline-i"; }
        location ~ ^/s/a\sb$ { return 200 "s-class"; }
        location ~ ^/k/(?P<n>\w+)/(?P=n)$ { return 200 "backref $n"; }
        location / { return 404 "none"; }
      } }`);
    const get = async (path: string, host = 'x.test') => {
      const res = await request(proxy.url(path), { headers: { host } });
      return `${res.status} ${res.body}`;
    };
    expect(await get('/who', 'api.example.test')).toBe('200 sub=api dom=example');
    expect(await get('/old/a/b')).toBe('200 new /new/a/b rest=a/b');
    expect(await get('/m/src.tar.gz')).toBe('200 map tarball-src ext=src');
    expect(await get('/m/srcxtarxgz')).toBe('200 map other ext=');
    expect(await get('/m/readme')).toBe('200 map readme ext=');
    expect(await get('/p/abc')).toBe('200 p-letter');
    expect(await get('/q/a.b')).toBe('200 quoted');
    expect(await get('/q/axb')).toBe('404 none');
    // PCRE's `$` matches before a final newline; `\z` does not
    expect(await get('/n/x%0A')).toBe('200 dollar-before-newline');
    expect(await get('/z/x%0A')).toBe('404 none');
    expect(await get('/i/ABC')).toBe('200 inline-i');
    // \s is ASCII in PCRE: VT matches, NBSP does not
    expect(await get('/s/a%0Bb')).toBe('200 s-class');
    expect(await get('/s/a%C2%A0b')).toBe('404 none');
    expect(await get('/k/ab/ab')).toBe('200 backref ab');
    expect(await get('/k/ab/ba')).toBe('404 none');
  });

  // nginx stores named captures as variables of the request: they outlive a later capturing
  // regex and a `rewrite ... last` (nginx 1.22: "cap sub=foo one=z", "n=xx", "k=zz n=zz").
  it('named captures stay variables after a capturing location and across rewrite ... last, as nginx', async () => {
    const proxy = await startProxy(String.raw`http { server { listen 127.0.0.1:0;
      server_name "~^(?<sub>[a-z]+)\.example\.com$";
      location ~ ^/cap/(\w+)$ { return 200 "cap sub=$sub one=$1"; }
      location ~ ^/a/(?<n>\w+)$ { rewrite ^ /b last; }
      location /b { return 200 "n=$n sub=$sub"; }
      location ~ ^/e/(?<n>\w+)$ { set $k $n; rewrite ^ /f last; }
      location /f { return 200 "k=$k n=$n"; }
      location / { return 200 "plain sub=$sub"; } } }`);
    const get = async (path: string): Promise<string> => (await request(proxy.url(path), { headers: { host: 'foo.example.com' } })).body;
    expect(await get('/cap/z')).toBe('cap sub=foo one=z');
    expect(await get('/a/xx')).toBe('n=xx sub=foo');
    expect(await get('/e/zz')).toBe('k=zz n=zz');
    expect(await get('/x')).toBe('plain sub=foo');
  });

  it('-t refuses what it cannot run faithfully, with a caret under the construct', () => {
    const text = [
      'http { server { listen 127.0.0.1:0;',
      '  location ~ ^/a++$ { return 200; }',
      '  location ~* "^/(?>x)" { return 200; }',
      '  rewrite ^/(a)(?1)$ /b;',
      '  server_name ~^\\K;',
      '} map $uri $x { ~\\y 1; } }',
    ].join('\n');
    const r = loadConfig(text, 'a.conf');
    expect(r.errors.map((e) => formatConfigError(e, r.sources).replace(/^tsproxy: \[emerg\] /, ''))).toEqual([
      'invalid regex "^/a++$": "++" (possessive quantifier) is not supported in a.conf:2:17\n  location ~ ^/a++$ { return 200; }\n                ^^',
      'invalid regex "^/(?>x)": "(?>" (atomic group) is not supported in a.conf:3:18\n  location ~* "^/(?>x)" { return 200; }\n                 ^^^',
      'invalid regex "^/(a)(?1)$": "(?1" (recursion or subroutine call) is not supported in a.conf:4:16\n  rewrite ^/(a)(?1)$ /b;\n               ^^^',
      'invalid regex "^\\K": "\\K" (reset of the match start) is not supported in a.conf:5:17\n  server_name ~^\\K;\n                ^^',
      'invalid regex "\\y": unrecognized character follows \\ in a.conf:6:18\n} map $uri $x { ~\\y 1; } }\n                 ^^',
    ]);
  });
});

describe('PCRE in stream routing', () => {
  it('server_name and map regexes with (?P<name>) pick the upstream by SNI-less Host of websocket_pass', async () => {
    const backend = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const port = (backend.address() as net.AddressInfo).port;
    const proxy = await startProxy(`tcp {
      upstream b { server 127.0.0.1:${port}; }
      server { listen 127.0.0.1:0; server_name other.test; websocket_pass b; }
      server { listen 127.0.0.1:0; server_name ~^(?P<app>[a-z]+)\\.\\Qapps.test\\E$; websocket_pass b; }
    }`);
    try {
      const res = await request(proxy.url('/'), { headers: { host: 'one.apps.test' } });
      expect(res.status).toBe(200);
    } finally {
      backend.close();
    }
  });
});
