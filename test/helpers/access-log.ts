/**
 * An access log file in a fresh temporary directory (removed when the test ends) and its lines,
 * read after flushing the logs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { flushLogs } from '../../src/log.js';

export function logFile(prefix = 'tsproxy-log-'): { path: string; lines(): string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'access.log');
  return {
    path: file,
    lines: () => {
      flushLogs();
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
    },
  };
}
