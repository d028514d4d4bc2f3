/**
 * Keeps the last `n` bytes of a stream back: everything older is passed to `emit` at once (as sub-views, no
 * copies), the held tail only on `release()`. A body forwarded with a fixed Content-Length can then never be
 * completed upstream before the caller has verified it: on failure the tail is simply never released.
 */
export class TailHolder {
  /** queue of held pieces: held[head..] (an index, not shift(): input may come one byte at a time) */
  private held: Buffer[] = [];
  private head = 0;
  private heldBytes = 0;
  /** bytes passed to emit so far */
  emitted = 0;

  constructor(private readonly n: number, private readonly emit: (b: Buffer) => void) {}

  add(b: Buffer): void {
    if (b.length === 0) return;
    this.held.push(b);
    this.heldBytes += b.length;
    let excess = this.heldBytes - this.n;
    while (excess > 0) {
      const first = this.held[this.head]!;
      if (first.length <= excess) {
        this.held[this.head++] = EMPTY;
        this.heldBytes -= first.length;
        excess -= first.length;
        this.emitted += first.length;
        this.emit(first);
      } else {
        this.held[this.head] = first.subarray(excess);
        this.heldBytes -= excess;
        this.emitted += excess;
        this.emit(first.subarray(0, excess));
        excess = 0;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
  }

  /** Emits the held tail. */
  release(): void {
    const held = this.held.slice(this.head);
    this.held = [];
    this.head = 0;
    this.heldBytes = 0;
    for (const b of held) {
      this.emitted += b.length;
      this.emit(b);
    }
  }

  get holding(): number {
    return this.heldBytes;
  }
}

const EMPTY = Buffer.alloc(0);
