/**
 * The error log: one pino logger for the whole process, whose lines go to every configured
 * error_log target at or above its level, in nginx's text layout or, where `json` is given,
 * as pino's JSON. The logger object never changes: a reload that brings a new error_log only
 * retargets the stream and sets the level, and child loggers (made per component at build time,
 * never per request) follow because pino children inherit their level methods from the parent.
 *
 * Text lines are rendered from the call's context object and message (pino hands them to a
 * stream that asks for its metadata), not by parsing pino's JSON back.
 */
import { pino, type LogFn, type Logger } from 'pino';
import type { LogLevel } from './log/levels.js';
import { CUSTOM_LEVELS, LEVEL_VALUES, levelLabel, type CustomLevel } from './log/levels.js';
import { formatErrorLine } from './log/error-layout.js';
import { openErrorLogSink, openLogSink, type LogBuffering, type LogSink } from './log/sinks.js';

export { appendLogLine, flushLogs, reopenLogs, settleLogs, type LogBuffering, type LogSink } from './log/sinks.js';
export { formatErrorLine } from './log/error-layout.js';

/**
 * A logger with nginx's levels: `notice`, `crit`, `alert` and `emerg` besides pino's own. Typed
 * as an intersection so it still passes where a plain pino Logger is expected (pino's
 * Logger<Custom> is not assignable to Logger).
 */
export type ErrorLogger = Logger & Record<CustomLevel, LogFn>;

/** One error_log target as the runtime applies it. */
export interface ErrorLogTarget {
  /** 'stderr', 'stdout' or an absolute path. */
  readonly target: string;
  readonly level: LogLevel;
  /** 'text': nginx's layout (default); 'json': pino's JSON lines. */
  readonly format?: 'text' | 'json';
}

interface Route {
  readonly levelValue: number;
  readonly json: boolean;
  readonly sink: LogSink;
}

const metadata = Symbol.for('pino.metadata');

/**
 * pino's destination for the error log. pino sets last* before each write because of the
 * metadata symbol; `write` gets the JSON line, which goes as is to json targets.
 */
class ErrorLogStream {
  readonly [metadata] = true;
  lastLevel = 0;
  lastObj: Record<string, unknown> = {};
  lastMsg: string | undefined = undefined;
  #routes: Route[] = [];

  /** Throws TSP_ERR_LOG_FILE (nginx's `open() "file" failed (13: Permission denied)`) and keeps the old targets. */
  route(targets: readonly ErrorLogTarget[]): void {
    this.#routes = targets.map((t) => ({ levelValue: LEVEL_VALUES[t.level], json: t.format === 'json', sink: openErrorLogSink(t.target) }));
  }

  write(json: string): void {
    let text: string | null = null;
    for (const r of this.#routes) {
      if (this.lastLevel < r.levelValue) continue;
      if (r.json) r.sink.write(json);
      else r.sink.write((text ??= formatErrorLine(this.lastLevel, this.lastObj, this.lastMsg, process.pid, Date.now())));
    }
  }
}

function lowestLevel(targets: readonly ErrorLogTarget[]): LogLevel {
  let low: LogLevel = 'emerg';
  for (const t of targets) if (LEVEL_VALUES[t.level] < LEVEL_VALUES[low]) low = t.level;
  return low;
}

function pinoLogger(stream: pino.DestinationStream, level: LogLevel): ErrorLogger {
  return pino<CustomLevel>(
    {
      level,
      customLevels: CUSTOM_LEVELS,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: levelLabel(label) }) },
    },
    stream,
  ) as unknown as ErrorLogger;
}

/**
 * A logger with nginx's levels writing to its own error_log targets, or to a stream as JSON
 * (tests read what was logged that way).
 */
export function createLogger(targets: readonly ErrorLogTarget[] | { stream: pino.DestinationStream; level: LogLevel }): ErrorLogger {
  if ('stream' in targets) return pinoLogger(targets.stream, targets.level);
  const stream = new ErrorLogStream();
  stream.route(targets);
  return pinoLogger(stream as unknown as pino.DestinationStream, lowestLevel(targets));
}

const envLevel = process.env.TSPROXY_LOG_LEVEL;
const INITIAL: ErrorLogTarget = { target: 'stderr', level: envLevel !== undefined && envLevel in LEVEL_VALUES ? (envLevel as LogLevel) : 'notice' };

/**
 * The process-wide logger. Until a config is running it writes to stderr at TSPROXY_LOG_LEVEL
 * (default notice); configureErrorLog points it at the config's error_log targets.
 */
const rootStream = new ErrorLogStream();
rootStream.route([INITIAL]);
let current: readonly ErrorLogTarget[] = [INITIAL];
export const logger: ErrorLogger = pinoLogger(rootStream as unknown as pino.DestinationStream, INITIAL.level);

/**
 * Apply a config's error_log targets to the process logger (at start and after each successful
 * reload). An empty list means the config names none: `fallback` (the -e file, else stderr).
 * Throws TSP_ERR_LOG_FILE when a file cannot be opened; the previous targets stay.
 */
export function configureErrorLog(targets: readonly ErrorLogTarget[], fallback: ErrorLogTarget = INITIAL): void {
  const effective = targets.length > 0 ? targets : [fallback];
  rootStream.route(effective);
  logger.level = lowestLevel(effective);
  current = effective;
}

/**
 * configureErrorLog after a reload: the new config is already serving, so an error_log file that
 * cannot be opened is reported (in the old log) instead of failing anything.
 */
export function reconfigureErrorLog(targets: readonly ErrorLogTarget[], fallback?: ErrorLogTarget): void {
  try {
    configureErrorLog(targets, fallback);
  } catch (err) {
    logger.alert((err as Error).message);
  }
}

/** True when a line logged now reaches stderr (then nothing needs repeating there). */
export function errorLogReachesStderr(level: LogLevel): boolean {
  return current.some((t) => t.target === 'stderr' && LEVEL_VALUES[level] >= LEVEL_VALUES[t.level]);
}

/** An access log sink (format compiled by the http/stream layer), optionally buffered (nginx buffer=/flush=/gzip). */
export function openAccessLog(target: string, buffering?: LogBuffering): LogSink {
  return openLogSink(target, buffering ?? null);
}
