/**
 * Which proxy locations keep a copy of request bodies (decided at config build, so the others pay
 * nothing per request), and -t's answers for the client_body_* directives (nginx 1.22's wording,
 * checked with ask-nginx).
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { LocationSettings } from '../../src/config/types.js';
import { bodyReadersOf, keepBodyPlan } from '../../src/http/keep-body-plan.js';

/** The keep-body plan of the first location of the config's first server. */
function planOf(text: string): ReturnType<typeof keepBodyPlan> {
  const r = loadConfig(text, '/p/t.conf');
  expect(r.errors.map(String)).toEqual([]);
  const http = r.config!.http!;
  const settings: LocationSettings = http.servers[0]!.locations[0]!.settings;
  return keepBodyPlan({ bodyReaders: bodyReadersOf(http), prefix: '/p' }, settings);
}

describe('keeping the body is decided per location at config build', () => {
  const proxy = 'proxy_pass http://127.0.0.1:9;';
  test('nothing reads the body: no plan', () => {
    expect(planOf(`http { log_format f '$request $status'; server { listen 80; access_log /tmp/a f; location / { ${proxy} add_header X $request_uri; } } }`)).toBeNull();
  });

  test('a log format, add_header, proxy_set_header or a map built on the body asks for it', () => {
    const memory = { bufferSizeBytes: 16384, fileOnly: false, fileOnOverflow: false, keepFile: false, tempPath: '/p/client_body_temp', tempLevels: [] };
    expect(planOf(`http { log_format f '$request_body'; server { listen 80; location / { access_log /tmp/a f; ${proxy} } } }`)).toEqual(memory);
    expect(planOf(`http { server { listen 80; location / { ${proxy} add_header X $request_body; } } }`)).toEqual(memory);
    expect(planOf(`http { server { listen 80; location / { ${proxy} proxy_set_header X $request_body; } } }`)).toEqual(memory);
    expect(planOf(`http { map $request_body $a { default 1; } map $a $b { default 2; } log_format f '$b';
      server { listen 80; access_log /tmp/a f; location / { ${proxy} } } }`)).toEqual(memory);
    expect(planOf(`http { server { listen 80; location / { ${proxy} add_header X $request_body_file; } } }`)).toEqual({ ...memory, fileOnOverflow: true });
  });

  test('client_body_in_file_only asks for a file whatever reads it; proxy_request_buffering off keeps nothing', () => {
    expect(planOf(`http { server { listen 80; client_body_temp_path /t 2; location / { client_body_in_file_only on; client_body_buffer_size 1k; ${proxy} } } }`))
      .toEqual({ bufferSizeBytes: 1024, fileOnly: true, fileOnOverflow: false, keepFile: true, tempPath: '/t', tempLevels: [2] });
    expect(planOf(`http { server { listen 80; location / { proxy_request_buffering off; ${proxy} add_header X $request_body; } } }`)).toBeNull();
  });
});

describe('-t (nginx 1.22)', () => {
  test('levels of client_body_temp_path: 1 or more digits each, 10 in all', () => {
    for (const levels of ['4 4 3', '0']) {
      const errors = loadConfig(`http { client_body_temp_path /x ${levels}; }`, 'd.conf').errors.map((e) => e.message);
      expect(errors).toEqual(['"client_body_temp_path" directive invalid value']);
    }
    expect(loadConfig('http { client_body_temp_path /x 4 4 2; }', 'd.conf').errors).toEqual([]);
  });

  test('$request_body and $request_body_file are known variables', () => {
    expect(loadConfig('http { log_format f "$request_body $request_body_file"; server { listen 80; return 200 $request_body; } }', 'd.conf').errors).toEqual([]);
  });
});
