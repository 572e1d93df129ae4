#!/usr/bin/env node
/**
 * tsproxy command line (nginx-compatible). The only module that calls process.exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, USAGE, DEFAULT_CONFIG_PATH, type CliOptions } from './cli/args.js';
import { loadConfigFile, type LoadResult } from './config/load.js';
import { formatConfigError } from './config/format.js';
import { readConfigTree } from './config/parse.js';
import { createLogger, setLogger, flushLogs } from './log.js';
import { readRunningPid } from './runtime/pidfile.js';
import cluster from 'node:cluster';
import { serve } from './runtime/serve.js';
import { servePrimary } from './runtime/primary.js';
import { runWorker } from './runtime/worker.js';
import { workerCount } from './runtime/workers.js';
import { daemonize, isDaemonChild } from './runtime/daemon.js';
import { TsproxyError } from './errors.js';
import { VERSION, FEATURES } from './version.js';

const SIGNAL_NAMES = { reload: 'SIGHUP', stop: 'SIGTERM', quit: 'SIGQUIT', reopen: 'SIGUSR1' } as const;

function say(line: string): void {
  process.stderr.write(`tsproxy: ${line}\n`);
}

function resolvePaths(opts: CliOptions): { configPath: string; prefix: string } {
  const configPath = path.resolve(opts.configPath ?? DEFAULT_CONFIG_PATH);
  const prefix = path.resolve(opts.prefix ?? path.dirname(configPath));
  return { configPath, prefix };
}

function load(opts: CliOptions): LoadResult {
  const { configPath, prefix } = resolvePaths(opts);
  const testOnly = opts.action === 'test' || opts.action === 'dump';
  return loadConfigFile(configPath, { prefix, globals: opts.globals ?? undefined, skipHash: testOnly });
}

function printProblems(result: LoadResult, quiet: boolean): void {
  const problems = [...result.errors, ...(quiet ? [] : result.warnings)];
  for (const err of problems) process.stderr.write(`${formatConfigError(err, result.sources)}\n`);
}

/**
 * The error_log a config names, read from the raw tree: a config with errors has no typed tree,
 * but the operator still looks for the reason in the log the config names (nginx creates it).
 */
function configuredErrorLog(opts: CliOptions): string | null {
  const { configPath, prefix } = resolvePaths(opts);
  const tree = readConfigTree(configPath, { prefix, globals: opts.globals ?? undefined });
  const d = tree.directives.find((x) => x.name === 'error_log' && x.block === null && x.args.length > 0);
  return d === undefined ? null : d.args[0]!.value;
}

/** nginx creates the error log even when the config is broken, so operators find the reason there. */
function appendErrorLog(opts: CliOptions, result: LoadResult): void {
  const { prefix } = resolvePaths(opts);
  const target = opts.errorLog ?? configuredErrorLog(opts) ?? path.join(prefix, 'logs/error.log');
  if (target === 'stderr') return;
  const file = path.resolve(prefix, target);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const lines = result.errors.map((e) => `${new Date().toISOString()} [emerg] ${e.message} in ${e.loc.file}:${e.loc.line}:${e.loc.column}\n`);
    fs.appendFileSync(file, lines.join(''));
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
      process.stderr.write(`tsproxy version: tsproxy/${VERSION}\nbuilt with node ${process.version}\nconfigure arguments: ${FEATURES.join(' ')}\n`);
      return 0;
    default:
      break;
  }

  const { configPath } = resolvePaths(opts);
  const result = load(opts);

  if (opts.action === 'test' || opts.action === 'dump') {
    printProblems(result, opts.quiet);
    if (result.config === null) {
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
  const { prefix } = resolvePaths(opts);
  const errorLog = opts.errorLog !== null ? { target: path.resolve(prefix, opts.errorLog), level: 'info' as const } : config.main.errorLogs[0];
  const logTarget = { target: errorLog?.target ?? 'stderr', level: errorLog?.level ?? ('info' as const) };
  if (config.main.daemon && !isDaemonChild()) {
    const stderrFile = logTarget.target === 'stderr' || logTarget.target === 'stdout' ? path.join(prefix, 'logs/error.log') : logTarget.target;
    try {
      await daemonize({ argv, pidFile: config.main.pid, stderrFile });
      return 0;
    } catch (err) {
      say(`[emerg] ${(err as Error).message}`);
      return 1;
    }
  }
  const logger = createLogger(logTarget.target, logTarget.level);
  setLogger(logger);
  try {
    const workers = workerCount(config);
    const serving = workers > 1
      ? await servePrimary({ config, logger, errorLog: logTarget, workers, load: () => load(opts) })
      : await serve({ config, logger, load: () => load(opts) });
    return await serving.done;
  } catch (err) {
    const message = err instanceof TsproxyError ? err.message : String(err);
    say(`[emerg] ${message}`);
    logger.fatal({ err }, message);
    flushLogs();
    return 1;
  }
}

// A worker process runs the same entry point; it takes its config from the primary.
(cluster.isWorker ? runWorker() : main(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (err) => {
    say(`[emerg] ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
