/**
 * What http's and stream's js_set share: njs's conversion of a result to the variable's text,
 * and tsproxy's waiting for a result that is a Promise (beyond njs: a Redis or HTTP lookup),
 * bounded by the js_set's `timeout=`.
 */
import { TsproxyError } from '../../errors.js';

/** How long a request or session waits for a js_set Promise (tsproxy's; njs has no async js_set). */
export const JS_SET_TIMEOUT_MS = 60_000;

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** njs's conversion of a js_set result. */
export function variableText(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** Where an awaited js_set value goes: its text, or its failure (the variable is then ""). */
export interface SetValueSink {
  value(text: string): void;
  /** The Promise did not settle within the timeout: the message to log. */
  timedOut(message: string): void;
  /** The Promise rejected. */
  rejected(e: unknown): void;
}

/** Wait for a js_set Promise at most `timeoutMs`; settles (never rejects) once the sink has been told. */
export function settleSetValue(variable: string, v: PromiseLike<unknown>, timeoutMs: number, sink: SetValueSink): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TsproxyError('TSP_ERR_JS', `js_set $${variable}: the Promise did not settle in ${timeoutMs}ms`)), timeoutMs);
  });
  return Promise.race([Promise.resolve(v), timeout]).then(
    (value) => sink.value(variableText(value)),
    (e: unknown) => {
      sink.value('');
      if (e instanceof TsproxyError && e.code === 'TSP_ERR_JS') sink.timedOut(e.message);
      else sink.rejected(e);
    },
  ).finally(() => clearTimeout(timer));
}
