#!/usr/bin/env node
/**
 * tsproxy command line (nginx-compatible). The only module that calls process.exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, USAGE, DEFAULT_CONFIG_PATH, type CliOptions } from './cli/args.js';
import { loadConfigFile, type LoadResult } from './config/load.js';
import { configErrorText, formatConfigError } from './config/format.js';
import { readConfigTree } from './config/parse.js';
import { FileReads } from './config/file-reads.js';
import { LEVEL_VALUES } from './log/levels.js';
import type { ErrorLogTarget } from './log.js';
import type { Config } from './config/types.js';
import { formatErrorLine } from './log/error-layout.js';
import { readRunningPid } from './runtime/pidfile.js';
import { checkScripts } from './runtime/scripts.js';
import { TsproxyError } from './errors.js';
import { VERSION, FEATURES } from './version.js';
import { tuneHeapForCheck } from './cli/check-heap.js';

// The serving runtime (servers, workers, daemon, -x) is imported when it is used: `-t` needs only
// the config modules, and importing the rest cost -t about a tenth of its time (HACKING.md).
const runtime = {
  serve: () => import('./runtime/serve.js'),
  primary: () => import('./runtime/primary.js'),
  worker: () => import('./runtime/worker.js'),
  workers: () => import('./runtime/workers.js'),
  daemon: () => import('./runtime/daemon.js'),
  explain: () => import('./runtime/explain/command.js'),
  threadedLoad: () => import('./runtime/threaded-load.js'),
};

// The error log (pino) is imported when something may be logged: `-t` logs nothing, and the
// import was a tenth of `-t` of a small config (and its stderr destination was fsynced at exit).
type LogModule = typeof import('./log.js');
let logModule: LogModule | undefined;
async function logs(): Promise<LogModule> {
  logModule ??= await import('./log.js');
  return logModule;
}

/** Before the process exits: what the error and access logs hold goes out (nothing when no log was opened). */
function settleLogs(): Promise<void> {
  return logModule === undefined ? Promise.resolve() : logModule.settleLogs();
}

const SIGNAL_NAMES = { reload: 'SIGHUP', stop: 'SIGTERM', quit: 'SIGQUIT', reopen: 'SIGUSR1' } as const;

function say(line: string): void {
  process.stderr.write(`tsproxy: ${line}\n`);
}

interface Paths {
  readonly configPath: string;
  readonly prefix: string;
  /** The error log when the config names none: -e, else stderr. */
  readonly errorLog: ErrorLogTarget;
}

/**
 * nginx: relative -c and -e name files under the prefix (`-p /srv/site/ -c nginx.conf` is
 * /srv/site/nginx.conf from any directory). Without -p the prefix is the config file's
 * directory, so a relative -c is then taken from the current directory.
 */
function resolvePaths(opts: CliOptions): Paths {
  let configPath: string;
  let prefix: string;
  if (opts.prefix !== null) {
    prefix = path.resolve(opts.prefix);
    configPath = path.resolve(prefix, opts.configPath ?? DEFAULT_CONFIG_PATH);
  } else {
    configPath = path.resolve(opts.configPath ?? DEFAULT_CONFIG_PATH);
    prefix = path.dirname(configPath);
  }
  const e = opts.errorLog;
  const errorLog: ErrorLogTarget = { target: e === null || e === 'stderr' ? 'stderr' : path.resolve(prefix, e), level: 'notice' };
  return { configPath, prefix, errorLog };
}

/** One for the process: a FIFO the config names is read at start only, reloads reuse its text. */
const fileReads = new FileReads();

/** The thread that loads reloads (runtime/threaded-load.ts), started by the first reload. */
let loadThread: Promise<import('./runtime/threaded-load.js').ConfigLoadThread> | null = null;
const theLoadThread = () => (loadThread ??= runtime.threadedLoad().then((m) => new m.ConfigLoadThread()));

/** A reload's load: the same loader, in a worker thread, so the serving thread does none of it. */
async function reloadLoad(opts: CliOptions, running: Config): Promise<Pick<LoadResult, 'config' | 'errors' | 'warnings'>> {
  const { configPath, prefix } = resolvePaths(opts);
  return (await theLoadThread()).load({ configPath, prefix, ...(opts.globals === null ? {} : { globals: opts.globals }) }, fileReads, running);
}

function load(opts: CliOptions): LoadResult {
  const { configPath, prefix } = resolvePaths(opts);
  const testOnly = opts.action === 'test' || opts.action === 'dump' || opts.action === 'explain';
  return loadConfigFile(configPath, { prefix, globals: opts.globals ?? undefined, checkOnly: testOnly, fileReads });
}

/** Errors always; warnings unless quiet; notices (directives with no effect) only for `-t`/`-T` and not quiet. */
function printProblems(result: LoadResult, quiet: boolean, notices = false): void {
  const problems = [...result.errors, ...(quiet ? [] : result.warnings)];
  for (const err of problems) process.stderr.write(`${formatConfigError(err, result.sources)}\n`);
  // A notice is one line, as nginx's: there is nothing to fix under a caret.
  if (notices && !quiet) for (const n of result.notices) say(`[notice] ${configErrorText(n)}`);
}

/**
 * The error_log a config names, read from the raw tree: a config with errors has no typed tree,
 * but the operator still looks for the reason in the log the config names (nginx creates it).
 */
function configuredErrorLog(opts: CliOptions): string | null {
  const { configPath, prefix } = resolvePaths(opts);
  const tree = readConfigTree(configPath, { prefix, globals: opts.globals ?? undefined, fileReads });
  const d = tree.directives.find((x) => x.name === 'error_log' && x.block === null && x.args.length > 0);
  if (d === undefined) return null;
  const target = d.args[0]!.value;
  return target === 'stderr' ? target : path.resolve(prefix, target);
}

/** nginx writes a failed start's reasons to the error log file too (they already went to stderr). */
function appendErrorLog(opts: CliOptions, result: LoadResult): void {
  const target = configuredErrorLog(opts) ?? resolvePaths(opts).errorLog.target;
  if (target === 'stderr') return;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const now = Date.now();
    fs.appendFileSync(target, result.errors.map((e) => formatErrorLine(LEVEL_VALUES.emerg, {}, configErrorText(e), process.pid, now)).join(''));
  } catch {
    // no writable error log: the messages already went to stderr
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if ('error' in parsed) {
    say(parsed.error);
    process.stderr.write(USAGE);
    return 1;
  }
  const opts = parsed;
  switch (opts.action) {
    case 'help':
      process.stderr.write(`tsproxy version: tsproxy/${VERSION}\n${USAGE}`);
      return 0;
    case 'version':
      process.stderr.write(`tsproxy version: tsproxy/${VERSION}\n`);
      return 0;
    case 'configure':
      // nginx's lines (tools grep "built with OpenSSL" and "TLS SNI support enabled"): TLS is
      // Node's OpenSSL, and SNI always works (the accept path reads it).
      process.stderr.write(`tsproxy version: tsproxy/${VERSION}\nbuilt with OpenSSL ${process.versions.openssl} (node ${process.version})\nTLS SNI support enabled\nconfigure arguments: ${FEATURES.join(' ')}\n`);
      return 0;
    default:
      break;
  }

  const { configPath } = resolvePaths(opts);
  if (opts.action === 'test' || opts.action === 'dump') tuneHeapForCheck();
  const result = load(opts);

  if (opts.action === 'test' || opts.action === 'dump') {
    printProblems(result, opts.quiet, true);
    // -t loads every js_import module: a syntax error shows the script's line with a caret.
    const scriptError = result.config === null ? null : await checkScripts(result.config);
    if (scriptError !== null) process.stderr.write(`${formatConfigError(scriptError, [...result.sources, ...scriptError.sources])}\n`);
    if (result.config === null || scriptError !== null) {
      say(`configuration file ${configPath} test failed`);
      return 1;
    }
    if (!opts.quiet) {
      say(`the configuration file ${configPath} syntax is ok`);
      say(`configuration file ${configPath} test is successful`);
    }
    if (opts.action === 'dump') {
      for (const src of result.sources) process.stdout.write(`# configuration file ${src.file}:\n${src.text}${src.text.endsWith('\n') ? '' : '\n'}\n`);
    }
    return 0;
  }

  if (opts.action === 'explain') {
    // A config error fails as -t fails; the explanation goes to stdout, problems to stderr.
    printProblems(result, true);
    if (result.config === null) {
      say(`configuration file ${configPath} test failed`);
      return 1;
    }
    try {
      await logs();
      const { explainCommand } = await runtime.explain();
      process.stdout.write(await explainCommand(result.config, result.sources, opts.explain!, path.dirname(configPath)));
      return 0;
    } catch (err) {
      say(`[error] ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }

  if (opts.action === 'signal') {
    if (result.config === null) {
      printProblems(result, true);
      return 1;
    }
    if (result.config.main.pid === null) {
      say('[error] no pid file is configured ("pid off"), cannot signal');
      return 1;
    }
    try {
      const pid = readRunningPid(result.config.main.pid);
      process.kill(pid, SIGNAL_NAMES[opts.signal!]);
      return 0;
    } catch (err) {
      say(`[error] ${(err as Error).message}`);
      return 1;
    }
  }

  // run
  printProblems(result, false);
  if (result.config === null) {
    appendErrorLog(opts, result);
    return 1;
  }
  const config = result.config;
  const { configureErrorLog, errorLogReachesStderr, flushLogs, logger, reconfigureErrorLog } = await logs();
  // Every later load runs while the process serves: it must not open a FIFO (it would block).
  fileReads.started();
  const { prefix, errorLog } = resolvePaths(opts);
  const { daemonize, isDaemonChild } = await runtime.daemon();
  if (config.main.daemon && !isDaemonChild()) {
    // The detached process's stderr (its early output) goes to the first error log file.
    const file = [...config.main.errorLogs, errorLog].find((l) => l.target !== 'stderr' && l.target !== 'stdout');
    const stderrFile = file?.target ?? path.join(prefix, 'logs/error.log');
    try {
      await daemonize({ argv, pidFile: config.main.pid, stderrFile });
      return 0;
    } catch (err) {
      say(`[emerg] ${(err as Error).message}`);
      return 1;
    }
  }
  // error_log follows reloads: applied now and after each reload that changed the config.
  const onReloaded = (next: typeof config) => reconfigureErrorLog(next.main.errorLogs, errorLog);
  const failed = (err: unknown): number => {
    // One line, as nginx: in the error log, and on stderr too unless the error log is stderr.
    const message = err instanceof Error ? err.message : String(err);
    logger.emerg(err instanceof TsproxyError ? { code: err.code } : {}, message);
    if (!errorLogReachesStderr('emerg')) say(`[emerg] ${message}`);
    flushLogs();
    return 1;
  };
  let done: Promise<number>;
  try {
    configureErrorLog(config.main.errorLogs, errorLog);
    const workers = (await runtime.workers()).workerCount(config);
    const serving = workers > 1
      ? await (await runtime.primary()).servePrimary({ config, logger, errorLog, workers, load: (running) => reloadLoad(opts, running), onReloaded })
      : await (await runtime.serve()).serve({ config, logger, load: (running) => reloadLoad(opts, running), onReloaded });
    done = serving.done;
  } catch (err) {
    return failed(err);
  }
  // Returned, not awaited: a suspended main() keeps every local of its frame (V8 saves them all),
  // so the startup Config and its source texts stayed in the heap for the life of the process,
  // beside each reloaded one (~60 MB with 10,000 servers; HACKING.md "Cost as work grows").
  return done.catch(failed);
}

// A worker process runs the same entry point; it takes its config from the primary. A cluster
// worker always has an IPC channel, so a process without one does not load node:cluster to ask
// (~10 ms of every `-t`). Node's own test (NODE_UNIQUE_ID) is gone from the environment by now.
// (getBuiltinModule gives module.exports, the cluster object, which the typings call `default`.)
const isClusterWorker = process.channel !== undefined && (process.getBuiltinModule('node:cluster') as unknown as typeof import('node:cluster').default).isWorker;
// Log files still opening get a moment, so nothing logged before the exit is lost.
(isClusterWorker ? logs().then(() => runtime.worker()).then((w) => w.runWorker()) : main(process.argv.slice(2))).then(
  (code) => void settleLogs().finally(() => process.exit(code)),
  (err) => {
    // Never a stack trace: one line, as every other start failure (and in the error log too).
    const message = err instanceof Error ? err.message : String(err);
    void logs()
      .then((log) => {
        try {
          log.logger.emerg(message);
          if (!log.errorLogReachesStderr('emerg')) say(`[emerg] ${message}`);
        } catch {
          say(`[emerg] ${message}`);
        }
        return log.settleLogs();
      }, () => say(`[emerg] ${message}`))
      .finally(() => process.exit(1));
  },
);
