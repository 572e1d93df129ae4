// @ts-check
/**
 * Splits a `perf record -g -e cpu-clock` profile of one process by where the CPU went, in µs per
 * request: each kernel sample by the syscall it is under (read and recvfrom as "read", write,
 * writev and sendto as "write", epoll_wait/epoll_pwait as "epoll", others by name), page faults,
 * other kernel work (interrupts, softirqs, the scheduler outside a syscall), then user space by
 * where the sample landed: JIT-compiled JS, the node binary (V8 builtins and runtime, node's C++,
 * libuv), libc, others by file name (nginx's own binary). Used by bench/kernel-split.sh.
 *   perf script -F tid,period,ip,sym,dso -i FILE | node bench/procs/perf-split.mjs REQUESTS [FAULTS]
 * Prints one JSON object: class -> µs per request (and, given the process's minflt count over the
 * same turn, page faults per 1000 requests and µs per fault).
 */
import readline from 'node:readline';

const requests = Number(process.argv[2]);
if (!(requests > 0)) throw new TypeError('usage: perf script ... | node perf-split.mjs REQUESTS');

const SYSCALL_GROUP = new Map([
  ['read', 'read'], ['recvfrom', 'read'], ['readv', 'read'], ['recvmsg', 'read'],
  ['write', 'write'], ['writev', 'write'], ['sendto', 'write'], ['sendmsg', 'write'],
  ['epoll_wait', 'epoll'], ['epoll_pwait', 'epoll'], ['epoll_pwait2', 'epoll'], ['epoll_ctl', 'epoll_ctl'],
]);

/** @param {{ period: number, frames: { sym: string, dso: string }[] }} s */
function classify(s) {
  const leaf = s.frames[0];
  if (leaf === undefined) return 'unknown';
  // The syscall is the frame do_syscall_64 called (some handlers are inlined: ksys_write, do_writev).
  const entry = s.frames.findIndex((f) => f.sym === 'do_syscall_64');
  if (entry > 0) {
    const name = s.frames[entry - 1].sym.replace(/^(?:__(?:x64|ia32)_sys_|ksys_|__sys_|do_)/, '');
    // A sample taken on the way in or out (the paravirtual irq enable, the exit work loop).
    if (/^__raw_callee|^pvm_|^exit_to_user/.test(name)) return 'kernel: syscall entry/exit';
    return `kernel: syscall ${SYSCALL_GROUP.get(name) ?? name}`;
  }
  if (s.frames.some((f) => f.sym === 'exc_page_fault' || f.sym === 'asm_exc_page_fault')) return 'kernel: page faults';
  if (leaf.dso.includes('kernel')) return 'kernel: other (irq, softirq, scheduler)';
  if (/perf-\d+\.map|\[JIT\]/.test(leaf.dso)) return 'user: JIT-compiled JS';
  if (/\/node$/.test(leaf.dso)) return 'user: node binary (V8, node, libuv)';
  if (/libc[.-]/.test(leaf.dso)) return 'user: libc';
  return `user: ${leaf.dso.replace(/^.*\//, '')}`;
}

/** @type {Map<string, number>} class -> ns */
const totals = new Map();
/** @type {{ period: number, frames: { sym: string, dso: string }[] } | null} */
let cur = null;
const flush = () => {
  if (cur === null) return;
  const c = classify(cur);
  totals.set(c, (totals.get(c) ?? 0) + cur.period);
  cur = null;
};
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() === '') { flush(); continue; }
  const head = /^\s*\d+\s+(\d+)\s*$/.exec(line);
  if (head) { flush(); cur = { period: Number(head[1]), frames: [] }; continue; }
  const frame = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
  if (frame && cur !== null) cur.frames.push({ sym: frame[1].replace(/\+0x[0-9a-f]+$/, ''), dso: frame[2] });
}
flush();
/** @type {Record<string, number>} */
const out = {};
let kernel = 0, user = 0;
for (const [k, ns] of [...totals].sort((a, b) => b[1] - a[1])) {
  const us = ns / 1000 / requests;
  out[k] = Math.round(us * 100) / 100;
  if (k.startsWith('kernel')) kernel += us; else user += us;
}
out['kernel total'] = Math.round(kernel * 100) / 100;
out['user total'] = Math.round(user * 100) / 100;
const faults = Number(process.argv[3] ?? NaN);
if (faults >= 0) {
  out['count: page faults per 1000 requests'] = Math.round((faults * 1000) / requests);
  if (faults > 0) out['count: µs per page fault'] = Math.round(((totals.get('kernel: page faults') ?? 0) / 1000 / faults) * 100) / 100;
}
console.log(JSON.stringify(out));
