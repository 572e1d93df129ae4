import { describe, expect, it } from 'vitest';
import { checkWrk, formatCell, median, parseWrk, tableGrid, toMarkdown, toText, type Row } from '../lib/report.js';

// wrk 4.1.0 (Debian) output against bench/procs/backend.mjs, numbers edited for round checks.
const WRK_LATENCY = `Running 1s test @ http://127.0.0.1:40125/small
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.31us   20.12us   1.20ms   97.50%
    Req/Sec    18.50k     1.20k   19.80k    80.00%
  Latency Distribution
     50%   48.00us
     75%   52.00us
     90%   60.00us
     99%    1.12ms
  18400 requests in 1.00s, 1.42MB read
Requests/sec:  18399.12
Transfer/sec:      1.42MB
`;

const WRK_ERRORS = `Running 1s test @ http://127.0.0.1:40125/small
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.31ms  220.12us   5.20ms   97.50%
    Req/Sec    38.50k     1.20k   39.80k    80.00%
  38400 requests in 1.00s, 3.42MB read
  Socket errors: connect 0, read 50, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:  38399.12
Transfer/sec:      3.42MB
`;

describe('parseWrk', () => {
  it('reads throughput and latency percentiles in ms whatever unit wrk chose', () => {
    const r = parseWrk(WRK_LATENCY);
    expect(r.requestsPerSec).toBe(18399.12);
    expect(r.requests).toBe(18400);
    expect(r.p50Ms).toBeCloseTo(0.048, 6);
    expect(r.p99Ms).toBeCloseTo(1.12, 6);
    expect(r.non2xx).toBe(0);
    expect(() => checkWrk(r)).not.toThrow();
  });

  it('counts error responses and socket errors, and refuses runs that measured errors', () => {
    const r = parseWrk(WRK_ERRORS);
    expect(r.p50Ms).toBeNull();
    expect(r.socketErrors).toBe(52);
    expect(r.non2xx).toBe(12);
    expect(() => checkWrk(r)).toThrow(/12 non-2xx/);
    expect(() => checkWrk({ ...r, non2xx: 0 })).not.toThrow(); // a few cut connections at the end are normal
    expect(() => checkWrk({ ...r, non2xx: 0, socketErrors: 5000 })).toThrow(/socket errors/);
  });

  it('fails loudly on output that is not from a finished run', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/no Requests\/sec/);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('table', () => {
  const cols = [
    { id: 'rps', title: 'req/s', digits: 0, better: 'higher' as const },
    { id: 'ms', title: 'p50 ms', digits: 3, better: 'lower' as const },
  ];
  const rows: Row[] = [
    { id: 'nginx', label: 'nginx', cells: new Map([['rps', { values: [38000, 38400, 39000] }], ['ms', { values: [0.1] }]]) },
    {
      id: 'tsproxy',
      label: 'tsproxy',
      cells: new Map([
        ['rps', { values: [19200, 1, 30000] }],
        ['ms', { values: [], error: 'start failed: exited with 1 EADDRINUSE 127.0.0.1:8080 and a long tail that goes on and on' }],
      ]),
    },
    { id: 'other', label: 'other', cells: new Map([['rps', { values: [], notApplicable: true }], ['ms', { values: [], text: 'not yet' }]]) },
  ];

  it('prints medians with the ratio to nginx, n/a with the reason, and "-" where a row does not apply', () => {
    const grid = tableGrid(rows, cols, 'nginx');
    expect(grid[0]).toEqual(['proxy', 'req/s', 'p50 ms']);
    expect(grid[1]).toEqual(['nginx', '38,400 (1.00)', '0.100 (1.00)']);
    expect(grid[2]![1]).toBe('19,200 (0.50)');
    expect(grid[2]![2]).toMatch(/^n\/a \(start failed: exited with 1 EADDRINUSE.*…\)$/);
    expect(grid[2]![2]!.length).toBeLessThan(70);
    expect(grid[3]).toEqual(['other', '-', 'not yet']);
  });

  it('prints no ratio in a column whose values are ratios or counts already', () => {
    const grid = tableGrid(rows, [{ ...cols[0]!, noRatio: true }], 'nginx');
    expect(grid[1]).toEqual(['nginx', '38,400']);
    expect(grid[2]).toEqual(['tsproxy', '19,200']);
  });

  it('prints plain values when nginx has no result', () => {
    expect(formatCell({ values: [1234.5] }, 1, null)).toBe('1,234.5');
  });

  it('renders markdown and aligned text', () => {
    const grid = tableGrid(rows, cols, 'nginx');
    const md = toMarkdown(grid).split('\n');
    expect(md[0]).toBe('| proxy | req/s | p50 ms |');
    expect(md[1]).toBe('|---|---:|---:|');
    expect(md).toHaveLength(5);
    const text = toText(grid).split('\n');
    expect(new Set(text.map((l) => l.length)).size).toBe(1);
  });
});
