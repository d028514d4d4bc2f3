import { EventEmitter } from 'node:events';
import { exposedFingerprint, shortId } from '../sse-c/customer-key.js';

export interface KeyExposure {
  /** HMAC fingerprint of the exposed key (hex) */
  fingerprint: string;
  at: Date;
  client: string;
  listener: 'http' | 'https';
  /** which header carried it: the key or the copy-source key */
  header: string;
  requestId: string;
}

/**
 * Key events, fingerprinted at the source so that no listener ever sees key material.
 * The fingerprint store (Redis) subscribes to these; until then they are logged.
 */
export class KeyEvents extends EventEmitter<{ exposed: [KeyExposure] }> {
  constructor(private readonly secret: Buffer) { super(); }

  exposed(e: { keyHeaderValue: string; header: string; client: string; listener: 'http' | 'https'; requestId: string }): void {
    const fingerprint = exposedFingerprint(e.keyHeaderValue, this.secret);
    this.emit('exposed', { fingerprint, at: new Date(), client: e.client, listener: e.listener, header: e.header, requestId: e.requestId });
  }

  static describe(e: KeyExposure): string {
    return `SSE-C key ${shortId(e.fingerprint)} was sent over plaintext HTTP by ${e.client}; treat it as exposed and rotate it`;
  }
}
