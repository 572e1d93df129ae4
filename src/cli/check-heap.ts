/**
 * The heap of a one-shot config check (`-t`, `-T`): it reads the whole config into a tree that
 * survives until the process exits. Two V8 settings, set only for the check (HACKING.md, config,
 * "-t speed"):
 *
 * - The young generation stays at 2 MB semi-spaces. Each scavenge copies nearly everything it
 *   finds, and copies it again when it promotes it; a larger young generation does not lower
 *   that (every object is still copied twice), it only touches more fresh pages, and a page
 *   fault on this kind of machine costs microseconds. Against V8's growth this cut the
 *   10,000-server `-t`'s page faults by a sixth and its CPU time by ~10%; 1 MB semi-spaces
 *   (twice the scavenges) cost ~10% again.
 * - The old generation grows 11x between full GCs. V8 marks and compacts it when it has grown
 *   by a factor since the last one (by default ~1.1-4, from the GC's measured speed). A check's
 *   tree only grows, so such a GC finds next to nothing to free: on 10,000 servers the second one
 *   marked ~45 MB to free 0.5 MB (40-100 ms of the main thread, more on a marking thread). Now
 *   the first (at ~11-20 MB) sets the next limit past what that check allocates; a bigger config
 *   still gets one every 11x.
 *
 * Set at run time (the command line cannot take node flags: `node dist/cli.js -t`): V8 reads
 * the growth factor each time the young generation would grow, and heap-growing-percent each time
 * a full GC sets the next limit. A serving process keeps V8's defaults. V8 11.3 (Node 20) to 13.x
 * define both flags; later versions may clamp 1 to their minimum, which leaves V8's default
 * behaviour. An unknown flag would print "unrecognized flag" on stdout, so a V8 outside that
 * range is left alone.
 */
import v8 from 'node:v8';

/** The young generation's size for the check: both semi-spaces of 2 MB, committed. */
const TARGET_BYTES = 4 << 20;
/** What growYoungGeneration allocates at most (~3.5 MB): a V8 that grows otherwise stops there. */
const GROW_LIMIT = 64 * 1024;

export function tuneHeapForCheck(): void {
  const major = Number(process.versions.v8.split('.')[0]);
  if (major < 11 || major > 13) return;
  growYoungGeneration();
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--heap-growing-percent=1000');
}

const youngBytes = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? TARGET_BYTES;

/**
 * Where the process starts the check, the young generation is 1 MB semi-spaces, or 2 MB if what
 * it imported happened to make V8 grow it (V8 doubles it after a scavenge when more than its
 * size survived since it last grew). The bundled command line imports too little for that, so
 * the size is made here: small objects that stay alive until the next scavenges have grown it,
 * then are dropped (they die young).
 */
function growYoungGeneration(): void {
  if (youngBytes() >= TARGET_BYTES) return;
  const keep: number[][] = [];
  for (let n = 0; n < GROW_LIMIT; n++) {
    keep.push([n]);
    if ((n & 1023) === 0 && youngBytes() >= TARGET_BYTES) return;
  }
}
