/**
 * The scavenge pacer: body bytes, not heap allocations, schedule young-generation GCs (see
 * src/server/scavenge-pacer.ts for why). Observed through perf_hooks' GC entries.
 */
import t from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { bodyBytes, paceScavenges } from '../../src/server/scavenge-pacer.js';

async function minorGcsDuring(work: () => void): Promise<number> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  obs.observe({ entryTypes: ['gc'] });
  work();
  await new Promise((r) => setTimeout(r, 50)); // entries are delivered asynchronously
  obs.disconnect();
  return minor;
}

t.test('a scavenge per configured amount of body bytes', async (t) => {
  paceScavenges(1 << 20);
  // 64 KiB pieces, 16 MiB in all: 16 scavenges, and the loop itself allocates next to nothing on the heap
  const n = await minorGcsDuring(() => { for (let i = 0; i < 256; i++) bodyBytes(64 * 1024); });
  t.ok(n >= 16, `16 MiB of body at 1 MiB per scavenge: ${n} minor GCs`);
  t.ok(n < 40, `and not one per piece: ${n}`);
});

t.test('0 leaves V8 alone', async (t) => {
  paceScavenges(0);
  const n = await minorGcsDuring(() => { for (let i = 0; i < 256; i++) bodyBytes(64 * 1024); });
  t.equal(n, 0, 'no minor GC for 16 MiB of body');
});
