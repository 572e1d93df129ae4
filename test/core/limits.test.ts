/**
 * core/limits: nginx 1.22's leaky bucket (ngx_http_limit_req_module's lookup and account steps)
 * and limit_conn's counting, on a clock the test moves. Sequences checked against nginx's source
 * arithmetic and, for the 3-of-10 case, a running nginx (see test/integration/limits.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { LimitConnZones } from '../../src/core/limits/limit-conn.js';
import { LIMIT_DECLINED, LIMIT_DELAYED, LIMIT_PASSED, LIMIT_REJECTED, LimitReqZones, NO_DELAY, formatExcess, type LimitReqCheck } from '../../src/core/limits/limit-req.js';

function check(zone: string, perSecond: number, burst: number, delay: number, key = 'k'): LimitReqCheck {
  return { zone, maxEntries: 100, rate: Math.trunc(perSecond * 1000), burst: burst * 1000, delay: delay === NO_DELAY ? NO_DELAY : delay * 1000, key };
}

describe('limit_req', () => {
  test('1r/s burst=2 nodelay: 3 pass at once, the 4th is rejected with excess 3.000 less the ms elapsed; a second later one more passes', () => {
    const z = new LimitReqZones();
    const c = [check('one', 1, 2, NO_DELAY)];
    const out = [0, 1, 2, 3, 4].map((ms) => z.decide(c, 1000 + ms));
    expect(out.map((d) => d.outcome)).toEqual([LIMIT_PASSED, LIMIT_PASSED, LIMIT_PASSED, LIMIT_REJECTED, LIMIT_REJECTED]);
    expect(out.map((d) => d.excess)).toEqual([0, 999, 1998, 2997, 2996]);
    expect(formatExcess(out[3]!.excess)).toBe('2.997');
    // rejected requests did not count: 2002 ms after the last accounted one (1.998), 1.998 - 2.002 + 1
    expect(z.decide(c, 3004)).toMatchObject({ outcome: LIMIT_PASSED, excess: 996 });
  });

  test('without nodelay the k-th excess request waits k / rate; delay=1 lets the first excess through at once', () => {
    const z = new LimitReqZones();
    const c = [check('two', 2, 5, 0)];
    expect([0, 0, 0, 0].map(() => z.decide(c, 50)).map((d) => [d.outcome, d.delayMs])).toEqual([
      [LIMIT_PASSED, 0], [LIMIT_DELAYED, 500], [LIMIT_DELAYED, 1000], [LIMIT_DELAYED, 1500],
    ]);
    const y = new LimitReqZones();
    const d1 = [check('three', 2, 5, 1)];
    expect([0, 0, 0].map(() => y.decide(d1, 50)).map((d) => [d.outcome, d.delayMs])).toEqual([
      [LIMIT_PASSED, 0], [LIMIT_PASSED, 0], [LIMIT_DELAYED, 500],
    ]);
  });

  test('r/m drains in thousandths: 30r/m loses 0.5 per second', () => {
    const z = new LimitReqZones();
    const c = [check('m', 0.5, 3, NO_DELAY)];
    z.decide(c, 0);
    z.decide(c, 0);
    expect(z.decide(c, 2000)).toMatchObject({ outcome: LIMIT_PASSED, excess: 1000 });
  });

  test('an empty key is not limited; several limits: the rejecting one is named and the others do not account', () => {
    const z = new LimitReqZones();
    expect(z.decide([check('one', 1, 0, 0, '')], 0).outcome).toBe(LIMIT_DECLINED);
    const c = [check('a', 1, 5, NO_DELAY), check('b', 1, 0, NO_DELAY)];
    expect(z.decide(c, 0)).toMatchObject({ outcome: LIMIT_PASSED });
    expect(z.decide(c, 0)).toMatchObject({ outcome: LIMIT_REJECTED, index: 1, excess: 1000 });
    expect(z.decide(c, 1000)).toMatchObject({ outcome: LIMIT_PASSED });
  });

  test('a full zone lets its least recently used keys go', () => {
    const z = new LimitReqZones();
    const c = (key: string): LimitReqCheck[] => [{ ...check('small', 1, 0, NO_DELAY, key), maxEntries: 2 }];
    z.decide(c('x'), 0);
    z.decide(c('y'), 0);
    z.decide(c('z'), 0);
    expect(z.zone('small').size).toBe(2);
    // x was dropped: it starts over
    expect(z.decide(c('x'), 0).outcome).toBe(LIMIT_PASSED);
  });
});

describe('limit_conn', () => {
  test('holds per key up to the number; a refusal gives back the holds the request took before it', () => {
    const z = new LimitConnZones();
    const c = [{ zone: 'a', maxEntries: 10, max: 2, key: 'k' }, { zone: 'b', maxEntries: 10, max: 1, key: 'k' }];
    expect(z.acquire(c)).toEqual({ refused: -1, zoneFull: false });
    expect(z.acquire(c)).toEqual({ refused: 1, zoneFull: false });
    expect(z.count('a', 'k')).toBe(1);
    z.release(c);
    expect(z.count('a', 'k')).toBe(0);
    expect(z.acquire(c).refused).toBe(-1);
    expect(z.acquire([{ zone: 'a', maxEntries: 1, max: 5, key: 'other' }])).toEqual({ refused: 0, zoneFull: true });
  });
});
