/** The pid file: written only after every listener is bound, removed on exit (nginx). */
import fs from 'node:fs';
import path from 'node:path';
import { TsproxyError, systemErrorText } from '../errors.js';

export function writePidFile(file: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch {
    // the write below says why, in nginx's words
  }
  try {
    fs.writeFileSync(file, `${process.pid}\n`);
  } catch (err) {
    throw new TsproxyError('TSP_ERR_LOG_FILE', `open() "${file}" failed (${systemErrorText(err)})`, { cause: err });
  }
}

export function removePidFile(file: string): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
  } catch {
    // already gone, or another instance owns it now
  }
}

/** The pid a running instance wrote; a clear error when the file is missing or stale. */
export function readRunningPid(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsproxyError('TSP_ERR_SIGNAL', `open() "${file}" failed (${systemErrorText(err)})`);
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new TsproxyError('TSP_ERR_SIGNAL', `invalid PID number "${text.trim()}" in "${file}"`);
  try {
    process.kill(pid, 0);
  } catch {
    throw new TsproxyError('TSP_ERR_SIGNAL', `stale pid file "${file}": no process ${pid} is running`);
  }
  return pid;
}
