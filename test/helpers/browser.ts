/** Debian's chromium driven by playwright-core (headless), for the status page tests and its screenshot. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Outside CI a machine without chromium skips; in CI (.ci/run installs it) it must run. */
export const HAVE_CHROMIUM = existsSync(CHROMIUM) || process.env.CI !== undefined;

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A fresh browser profile; close() also removes it. */
export async function launchBrowser(options: { javaScriptEnabled?: boolean; width?: number; height?: number } = {}): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'tsproxy-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    viewport: { width: options.width ?? 1280, height: options.height ?? 720 },
  });
  return Object.assign(context, {
    async dispose(): Promise<void> {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  });
}
