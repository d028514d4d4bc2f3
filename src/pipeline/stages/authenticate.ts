import type { Stage } from '../context.js';

/**
 * Authentication. `passthrough`: the client's SigV4 signature (header or presigned query) goes to
 * the upstream untouched and the upstream checks it; the gateway changes no signed header.
 */
export function authenticate(mode: 'passthrough'): Stage {
  return {
    name: 'authenticate',
    run() {
      if (mode !== 'passthrough') throw new Error(`auth mode ${mode as string} not implemented`);
    },
  };
}
