/**
 * nginx's eight error-log levels as pino levels. pino knows debug/info/warn/error (same values as
 * its own) and gets notice, crit, alert and emerg as custom levels, so a call site says
 * `logger.notice(...)` and the log says `[notice]`, never pino's `fatal` or a number.
 */
/** nginx's error_log levels, lowest first (the config's `error_log` names one). */
export type LogLevel = 'debug' | 'info' | 'notice' | 'warn' | 'error' | 'crit' | 'alert' | 'emerg';

/** The pino custom levels tsproxy adds (values between pino's own, in nginx's order). */
export const CUSTOM_LEVELS = { notice: 35, crit: 52, alert: 55, emerg: 58 } as const;

export type CustomLevel = keyof typeof CUSTOM_LEVELS;

/** Every nginx level's pino value. */
export const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = {
  debug: 20,
  info: 30,
  notice: CUSTOM_LEVELS.notice,
  warn: 40,
  error: 50,
  crit: CUSTOM_LEVELS.crit,
  alert: CUSTOM_LEVELS.alert,
  emerg: CUSTOM_LEVELS.emerg,
};

const BY_VALUE: readonly (readonly [number, LogLevel])[] = Object.entries(LEVEL_VALUES)
  .map(([name, value]) => [value, name as LogLevel] as const)
  .sort((a, b) => b[0] - a[0]);

/** The nginx name of a pino level value; pino's trace shows as debug and fatal as emerg. */
export function levelName(value: number): LogLevel {
  for (const [v, name] of BY_VALUE) if (value >= v) return name;
  return 'debug';
}

/** pino's own labels that have no nginx name. */
const PINO_ONLY: Readonly<Record<string, LogLevel>> = { trace: 'debug', fatal: 'emerg' };

/** The nginx name of a pino level label (for the JSON layout's "level" field). */
export function levelLabel(label: string): string {
  return PINO_ONLY[label] ?? label;
}
