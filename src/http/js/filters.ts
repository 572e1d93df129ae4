/**
 * js_header_filter and js_body_filter (body-filters/chain.ts runs them first in a location's
 * filter chain, as nginx runs njs's filters before its own). Both are synchronous (njs). A throw
 * is logged as njs's "js exception" and the connection is closed without more of the answer
 * (nginx + njs close it too).
 */
import type { ScriptBodyStage, ScriptFilterPlan } from '../body-filters/chain.js';
import type { HttpRequest } from '../request.js';
import type { JsFunction } from '../../core/js/loader.js';
import { MODE_CONTENT, MODE_FILTER, type JsRequest } from './request.js';
import type { JsRuntime } from './runtime.js';
import { setActiveRequest } from '../../core/js/globals.js';

const EMPTY = Buffer.alloc(0);
const NOT_LAST = Object.freeze({ last: false });
const LAST = Object.freeze({ last: true });

export class JsFilterPlan implements ScriptFilterPlan {
  readonly header: boolean;
  readonly body: boolean;
  readonly #rt: JsRuntime;
  readonly #headerFn: JsFunction | null;
  readonly #bodyFn: JsFunction | null;
  readonly #buffer: boolean;

  constructor(rt: JsRuntime, headerFn: JsFunction | null, bodyFn: JsFunction | null, buffer: boolean) {
    this.#rt = rt;
    this.#headerFn = headerFn;
    this.#bodyFn = bodyFn;
    this.#buffer = buffer;
    this.header = headerFn !== null;
    this.body = bodyFn !== null;
  }

  headers(r: HttpRequest, status: number, fields: string[]): readonly string[] | null {
    const jr = this.#rt.requestOf(r);
    // The head is being written: its status is the response's (a producer may record it after).
    r.status = status;
    jr.loadHeadersOut(fields);
    jr.mode = MODE_FILTER;
    const fn = this.#headerFn!;
    setActiveRequest(jr);
    try {
      fn(jr);
    } catch (e) {
      failed(r, jr, e);
      return null;
    } finally {
      setActiveRequest(null);
      jr.mode = MODE_CONTENT;
    }
    return jr.headersOutFields();
  }

  bodyStage(r: HttpRequest): ScriptBodyStage {
    return new JsBodyStage(r, this.#rt.requestOf(r), this.#bodyFn!, this.#buffer);
  }
}

function failed(r: HttpRequest, jr: JsRequest, e: unknown): void {
  jr.fail(e, 'js exception', false);
  r.transport.abort();
}

class JsBodyStage implements ScriptBodyStage {
  readonly #r: HttpRequest;
  readonly #jr: JsRequest;
  readonly #fn: JsFunction;
  readonly #buffer: boolean;
  #failed = false;

  constructor(r: HttpRequest, jr: JsRequest, fn: JsFunction, buffer: boolean) {
    this.#r = r;
    this.#jr = jr;
    this.#fn = fn;
    this.#buffer = buffer;
  }

  push(data: Buffer): Buffer | null {
    if (this.#failed) return null;
    if (this.#jr.filterDone) return data;
    return this.#call(data, NOT_LAST);
  }

  finish(): Buffer | null {
    if (this.#failed) return null;
    if (this.#jr.filterDone) return EMPTY;
    return this.#call(EMPTY, LAST);
  }

  #call(data: Buffer, flags: { last: boolean }): Buffer | null {
    const jr = this.#jr;
    const out: Buffer[] = [];
    jr.filtered = out;
    jr.mode = MODE_FILTER;
    const fn = this.#fn;
    setActiveRequest(jr);
    try {
      fn(jr, this.#buffer ? data : data.toString('utf8'), flags);
    } catch (e) {
      this.#failed = true;
      failed(this.#r, jr, e);
      return null;
    } finally {
      setActiveRequest(null);
      jr.filtered = null;
      jr.mode = MODE_CONTENT;
    }
    return out.length === 0 ? EMPTY : out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}
