import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cpuSeconds, cpuSecondsPrecise, firstLine, processTree, rssBytes, run, start, stop } from '../lib/procs.js';

const exists = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));

describe('process control', () => {
  it('pins the child to the CPU list it was given', async () => {
    const r = await run('bash', ['-c', 'taskset -p $$'], { cpus: '0', timeoutMs: 5000 });
    expect(r.stdout).toMatch(/affinity mask: 1$/m);
  });

  it('kills a time-boxed command that runs too long', async () => {
    const t0 = Date.now();
    const r = await run('sleep', ['30'], { cpus: '0', timeoutMs: 300 });
    expect(r.code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('stops the whole process group, grandchildren included (nginx workers outlive their master)', async () => {
    const child = start('bash', ['-c', 'sleep 30 & echo $!; wait'], { cpus: '0' });
    onTestFinished(() => stop(child, 'SIGKILL', 100));
    const grandchild = Number(await firstLine(child, 5000));
    expect(processTree(child.pid!)).toContain(grandchild);
    await stop(child, 'SIGTERM', 1000);
    await expect.poll(() => exists(grandchild)).toBe(false);
  });

  it('reads CPU time and RSS of a process tree from /proc', async () => {
    const child = start('node', ['-e', 'console.log("up"); const t = Date.now(); while (Date.now() - t < 5000);'], { cpus: '0' });
    onTestFinished(() => stop(child, 'SIGKILL', 100));
    await firstLine(child, 5000);
    const tree = processTree(child.pid!);
    expect(rssBytes(tree)).toBeGreaterThan(10 * 1024 * 1024);
    const before = cpuSeconds(tree);
    const preciseBefore = cpuSecondsPrecise(tree);
    await expect.poll(() => cpuSeconds(tree) - before, { timeout: 4000 }).toBeGreaterThan(0.2);
    expect(cpuSecondsPrecise(tree) - preciseBefore).toBeGreaterThan(0.15);
  });
});
