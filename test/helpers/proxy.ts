/**
 * Start tsproxy in-process on a config given as text (no temporary file), for integration tests.
 * Listen on 127.0.0.1:0 in the config and ask `proxy.port('127.0.0.1:0')` for the real port.
 */
import fs from 'node:fs';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { loadConfig, loadConfigFile } from '../../src/config/load.js';
import { Runtime, type RuntimeOptions } from '../../src/runtime/runtime.js';
import type { Config } from '../../src/config/types.js';

export function configFrom(text: string, file = 'inline.conf'): Config {
  const result = loadConfig(text, file);
  if (result.config === null) {
    throw new Error(`config has errors:\n${result.errors.map((e) => String(e)).join('\n')}`);
  }
  return result.config;
}

export interface TestProxy {
  runtime: Runtime;
  /** Port bound for a listen key; with one listener the key may be omitted. */
  port(key?: string): number;
  url(path?: string, key?: string): string;
  stop(): Promise<void>;
}

export async function startProxy(text: string, options: { autoStop?: boolean } = {}): Promise<TestProxy> {
  const runtime = await Runtime.start(configFrom(text));
  const port = (key?: string) => {
    if (key !== undefined) return runtime.port(key);
    const keys = [...runtime.addresses().keys()];
    if (keys.length !== 1) throw new Error(`several listeners (${keys.join(', ')}): name one`);
    return runtime.port(keys[0]!);
  };
  const proxy: TestProxy = {
    runtime,
    port,
    url: (path = '/', key?: string) => `http://127.0.0.1:${port(key)}${path}`,
    stop: () => runtime.stop({ graceful: false }),
  };
  if (options.autoStop !== false) onTestFinished(() => proxy.stop());
  return proxy;
}

/** A proxy on a config written to a file in `dir` (what `include` needs), the prefix that dir. */
export async function startProxyFromFile(text: string, dir: string, options: RuntimeOptions = {}): Promise<TestProxy> {
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, text);
  const loaded = loadConfigFile(file, { prefix: dir });
  if (loaded.config === null) throw new Error(loaded.errors.map(String).join('\n'));
  const runtime = await Runtime.start(loaded.config, options);
  onTestFinished(() => runtime.stop({ graceful: false }));
  const port = (): number => runtime.port([...runtime.addresses().keys()][0]!);
  return { runtime, port, url: (p = '/') => `http://127.0.0.1:${port()}${p}`, stop: () => runtime.stop({ graceful: false }) };
}
