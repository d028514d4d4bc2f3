import { watch, statSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Keeps a value loaded from a file or directory current without a restart. Watches the parent
 * directory (Kubernetes swaps mounted Secrets by renaming a symlink, which a file watch misses)
 * and polls the mtime as a fallback. The swap is one assignment, so in-flight requests keep the
 * version they started with and none is dropped. A load that fails keeps the previous version.
 */
export class Reloading<T> {
  #value: T;
  #watcher?: FSWatcher;
  #poll?: NodeJS.Timeout;
  #stamp: string;
  #timer?: NodeJS.Timeout;

  constructor(private readonly path: string, private readonly load: () => T, private readonly onError: (e: unknown) => void, private readonly onReload?: () => void, pollMs = 2000) {
    this.#value = load();
    this.#stamp = this.stamp();
    try {
      this.#watcher = watch(statSync(path).isDirectory() ? path : dirname(path), () => this.schedule());
      this.#watcher.on('error', () => undefined);
    } catch { /* polling still works */ }
    this.#poll = setInterval(() => { if (this.stamp() !== this.#stamp) this.schedule(); }, pollMs);
    this.#poll.unref();
  }

  get value(): T { return this.#value; }

  private stamp(): string {
    try { const s = statSync(this.path); return `${s.mtimeMs}:${s.size}:${s.ino}`; } catch { return 'missing'; }
  }

  private schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload(), 100);
    this.#timer.unref();
  }

  reload(): void {
    const stamp = this.stamp();
    try {
      this.#value = this.load();
      this.#stamp = stamp;
      this.onReload?.();
    } catch (e) {
      this.#stamp = stamp;
      this.onError(e);
    }
  }

  close(): void {
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#timer);
  }
}
