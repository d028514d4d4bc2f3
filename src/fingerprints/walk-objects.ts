import type { FingerprintStore, ObjectEntry } from './types.js';

/** A key's whole inventory, page by page (FingerprintStore.objects for every implementation). */
export async function* walkObjects(store: Pick<FingerprintStore, 'objectsPage'>, fingerprint: string, opts: { count?: number } = {}): AsyncIterable<ObjectEntry> {
  let cursor: string | undefined;
  do {
    const page = await store.objectsPage(fingerprint, { cursor, count: opts.count });
    yield* page.entries;
    cursor = page.cursor;
  } while (cursor !== undefined);
}
