/**
 * The heap of a one-shot config check (`-t`, `-T`): it reads the whole config into a tree that
 * survives until the process exits, so each scavenge copies nearly everything it finds, and
 * copies it again when it promotes it. A larger young generation does not lower that (every
 * object is still copied twice); it only touches more fresh pages, and a page fault on this
 * kind of machine costs microseconds. Keeping the young generation at 2 MB semi-spaces for the
 * check cut the 10,000-server `-t`'s page faults by a sixth and its CPU time by ~10%; 1 MB
 * semi-spaces (twice the scavenges) cost ~10% again (HACKING.md, config, "-t speed").
 *
 * Set at run time (the command line cannot take node flags: `node dist/cli.js -t`): V8 reads
 * the growth factor each time the young generation would grow. Only the check sets it; a serving
 * process keeps V8's defaults. V8 11.3 (Node 20) to 13.x define the flag; later versions may
 * clamp 1 to their minimum, which leaves V8's default behaviour. An unknown flag would print
 * "unrecognized flag" on stdout, so a V8 outside that range is left alone.
 */
import v8 from 'node:v8';

/** The young generation's size for the check: both semi-spaces of 2 MB, committed. */
const TARGET_BYTES = 4 << 20;
/** What growYoungGeneration allocates at most (~3.5 MB): a V8 that grows otherwise stops there. */
const GROW_LIMIT = 64 * 1024;

export function keepYoungGenerationSmall(): void {
  const major = Number(process.versions.v8.split('.')[0]);
  if (major < 11 || major > 13) return;
  growYoungGeneration();
  v8.setFlagsFromString('--semi-space-growth-factor=1');
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
