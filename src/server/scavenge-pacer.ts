/**
 * Body bytes pace V8's young-generation GC (a scavenge every `memory.scavengeEveryBytes` of body).
 *
 * Every piece of a body is a Buffer whose bytes live outside the JS heap (a TLS record read, a
 * cipher's output). The objects that hold them are tiny, so a fast transfer allocates too little
 * heap to fill the young generation before ~32 MiB of such bytes are dead; V8 then sees "external
 * memory pressure" and runs a full mark-compact to free them, about every 20 MiB of transfer.
 * Profiled on a 512 MiB SSE-C PUT in gateway mode: 25 mark-compacts, and GC a third of the
 * gateway's CPU. A scavenge frees those Buffers as well and costs well under a millisecond when
 * little on the heap is alive (nothing of a body is), so one every few MiB keeps the external
 * bytes under the pressure mark: 223 → 141 ticks per 512 MiB encrypted, measured with the A/B
 * in the README's performance section. Small requests allocate heap and get their scavenges
 * anyway; they move too few bytes to trigger one here.
 *
 * `gc()` is V8's (--expose-gc, switched on at run time: nothing else reads it).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: Gc | undefined;
let every = 0;
let since = 0;

/** Starts pacing (idempotent); 0 leaves V8 alone. */
export function paceScavenges(bytes: number): void {
  every = bytes;
  if (every > 0 && !gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as Gc;
  }
}

/** `n` body bytes went through this process. */
export function bodyBytes(n: number): void {
  if (every === 0) return;
  since += n;
  if (since >= every) {
    since = 0;
    gc!({ type: 'minor' });
  }
}
