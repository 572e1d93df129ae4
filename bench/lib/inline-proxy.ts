/**
 * A bench script's proxy child: tsproxy in this process on a config given as text (one listen on
 * 127.0.0.1:0), its port announced on stdout as `PORT n` (procs.ts `announcedPort`), stopped on
 * SIGINT. Only errors are logged (to stderr).
 */
export async function serveInlineConfig(text: string, file: string): Promise<void> {
  const { loadConfig } = await import('../../src/config/load.js');
  const { Runtime } = await import('../../src/runtime/runtime.js');
  const { createLogger } = await import('../../src/log.js');
  const { config, errors } = loadConfig(text, file);
  if (config === null) throw new Error(errors.map(String).join('\n'));
  const runtime = await Runtime.start(config, { logger: createLogger([{ target: 'stderr', level: 'error' }]) });
  process.stdout.write(`PORT ${runtime.port('127.0.0.1:0')}\n`);
  process.on('SIGINT', () => void runtime.stop().then(() => process.exit(0)));
}
