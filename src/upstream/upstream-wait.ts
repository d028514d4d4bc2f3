/**
 * `upstream.timeoutMs`, counted only while the upstream is the one being waited on: while it holds
 * the body back (a write waiting for 'drain'), while it owes an answer (the request is out, or
 * `Expect: 100-continue` was sent), and until its connection is up. Not the upload itself (a 5 GiB
 * part over a slow link takes longer than 120 s) and not a client that pauses its body
 * (limits.bodyTimeoutMs is that one's). Past it the request is destroyed with UpstreamTimeout (504).
 * One timer per request, re-armed with refresh(): a fast upload waits for 'drain' thousands of times.
 */
import type { ClientRequest } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';

export class UpstreamWait {
  readonly #req: ClientRequest;
  readonly #ms: number;
  #timer?: NodeJS.Timeout;
  #waiting = false;
  #over = false;

  constructor(req: ClientRequest, ms: number) {
    this.#req = req;
    this.#ms = ms;
    req.on('drain', () => this.taken());
    req.once('finish', () => this.wait()); // the whole request is out: now the answer is owed
  }

  /** the upstream is waited on from now */
  wait(): void {
    if (this.#over) return;
    this.#waiting = true;
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(() => { if (this.#waiting) this.#req.destroy(new GatewayError('UpstreamTimeout')); }, this.#ms);
  }

  /** it is not (it took what it was given, or said 100 Continue) */
  taken(): void { this.#waiting = false; }

  /** after writes of the body: waited on if it holds them back, until its 'drain' */
  wrote(): void {
    if (this.#req.writableNeedDrain) this.wait();
  }

  /** an answer or an error: the watch is over */
  end(): void {
    this.#over = true;
    this.#waiting = false;
    clearTimeout(this.#timer);
  }
}
