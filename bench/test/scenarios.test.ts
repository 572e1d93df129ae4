import { describe, expect, it } from 'vitest';
import { settledRss, slope } from '../lib/scenarios.js';

describe('idle memory helpers', () => {
  it('fits the slope of points on a line, whatever the intercept', () => {
    expect(slope([1000, 2000, 3000, 4000], [5e6 + 10_240_000, 5e6 + 20_480_000, 5e6 + 30_720_000, 5e6 + 40_960_000])).toBeCloseTo(10_240);
    expect(slope([1, 1], [2, 3])).toBeNaN();
  });

  it('reads RSS until it stops moving', async () => {
    const series = [100e6, 90e6, 80e6, 70e6, 70e6, 70e6 + 1000, 70e6, 70e6, 60e6];
    let i = 0;
    const got = await settledRss(() => series[Math.min(i++, series.length - 1)]!, 5000, () => Promise.resolve());
    expect(got).toBe(70e6);
    expect(i).toBe(8);
  });

  it('gives up after the time limit with the last value', async () => {
    let v = 0;
    const got = await settledRss(() => (v += 1e6), 1000, () => Promise.resolve());
    expect(got).toBe(6e6);
  });
});
