import { describe, expect, test, vi, onTestFinished } from 'vitest';
import { formatTimeIso8601, formatTimeLocal, timeLocal } from '../../src/core/variables/time.js';
import { compileTemplate } from '../../src/http/variables.js';
import { requestInfo } from '../helpers/http-config.js';

const ev = (t: string) => compileTemplate(t)(requestInfo());

describe('nginx times', () => {
  test('time formats', () => {
    vi.useFakeTimers();
    onTestFinished(() => { vi.useRealTimers(); });
    const d = new Date(2026, 10, 27, 14, 45, 36);
    vi.setSystemTime(d);
    const off = -d.getTimezoneOffset();
    const sign = off < 0 ? '-' : '+';
    const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
    const mm = String(Math.abs(off) % 60).padStart(2, '0');
    expect(formatTimeLocal(d)).toBe(`27/Nov/2026:14:45:36 ${sign}${hh}${mm}`);
    expect(formatTimeIso8601(d)).toBe(`2026-11-27T14:45:36${sign}${hh}:${mm}`);
    expect(ev('$time_local')).toBe(formatTimeLocal(d));
    vi.setSystemTime(new Date(2026, 10, 27, 14, 45, 37));
    expect(ev('$time_iso8601')).toBe(`2026-11-27T14:45:37${sign}${hh}:${mm}`);
  });

  test('an epoch time formats as the Date of it, and a second is formatted once', () => {
    const ms = new Date(2026, 0, 2, 3, 4, 5, 678).getTime();
    expect(timeLocal(ms)).toBe(formatTimeLocal(new Date(ms)));
    expect(timeLocal(ms + 300)).toBe(timeLocal(ms));
    expect(timeLocal(ms + 1000)).toBe(formatTimeLocal(new Date(ms + 1000)));
  });
});
