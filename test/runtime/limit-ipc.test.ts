/**
 * A worker's limit decisions when the primary does not answer (a stalled primary must not hold
 * requests forever): past the timeout the limit lets the request through, says so once, and a
 * late answer is reconciled so the primary's limit_conn counts stay true.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerLimits, type LimitRequest } from '../../src/runtime/limit-ipc.js';
import { CONN_ACQUIRED, type LimitConnCheck } from '../../src/core/limits/limit-conn.js';
import { LIMIT_DECLINED, type LimitReqDecision } from '../../src/core/limits/limit-req.js';
import type { ConnAnswer } from '../../src/core/limits/service.js';

afterEach(() => { vi.useRealTimers(); });

describe('WorkerLimits without an answer from the primary', () => {
  it('limit_req passes after the timeout and the timeout is reported', () => {
    vi.useFakeTimers();
    const sent: LimitRequest[] = [];
    const late: number[] = [];
    const w = new WorkerLimits((m) => sent.push(m), (n) => late.push(n));
    const got: LimitReqDecision[] = [];
    w.limitReq([{ zone: 'one', key: 'k' } as never], (d) => got.push(d), null);
    expect(sent.map((m) => m.type)).toEqual(['limitReq']);
    vi.advanceTimersByTime(2000);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(2500);
    expect(got.map((d) => d.outcome)).toEqual([LIMIT_DECLINED]);
    expect(late).toEqual([1]);
  });

  it('limit_conn passes without a hold; a late grant is given back, an answered one is released as usual', () => {
    vi.useFakeTimers();
    const sent: LimitRequest[] = [];
    const w = new WorkerLimits((m) => sent.push(m));
    const checks: LimitConnCheck[] = [{ zone: 'addr', key: '127.0.0.1' } as never];
    const got: ConnAnswer[] = [];
    w.acquireConn(checks, (a) => got.push(a), null);
    const asked = sent[0] as Extract<LimitRequest, { type: 'limitConn' }>;
    vi.advanceTimersByTime(4500);
    expect(got.map((a) => a.refused)).toEqual([CONN_ACQUIRED]);
    // the request ends: nothing to give back, the primary never counted it for us
    w.releaseConn(checks);
    expect(sent.map((m) => m.type)).toEqual(['limitConn']);
    // the primary answers late, having granted it: the hold goes back at once
    w.answered({ type: 'limitConnAnswer', reqId: asked.reqId, answer: { refused: CONN_ACQUIRED, zoneFull: false } } as never);
    expect(sent.map((m) => m.type)).toEqual(['limitConn', 'limitConnRelease']);
    // an answered acquire is released normally
    const other: LimitConnCheck[] = [{ zone: 'addr', key: '::1' } as never];
    w.acquireConn(other, () => {}, null);
    const second = sent.at(-1) as Extract<LimitRequest, { type: 'limitConn' }>;
    w.answered({ type: 'limitConnAnswer', reqId: second.reqId, answer: { refused: CONN_ACQUIRED, zoneFull: false } } as never);
    w.releaseConn(other);
    expect(sent.map((m) => m.type)).toEqual(['limitConn', 'limitConnRelease', 'limitConn', 'limitConnRelease']);
  });
});
