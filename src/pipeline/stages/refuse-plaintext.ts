import { GatewayError } from '../../errors/gateway-error.js';
import { COPY_SSEC, SSEC, hasSseCHeader, hasSseCQuery } from '../../s3/headers.js';
import type { KeyEvents } from '../../events/key-events.js';
import type { Stage } from '../../request/context.js';

/**
 * Plaintext listener only, and first: decided on header presence before anything is parsed or
 * read (like MinIO; AWS: "Amazon S3 rejects any requests made over HTTP when using SSE-C"). The key
 * that crossed the network in clear is reported as exposed, so its owner rotates it. POST Object
 * carries the triplet as form fields: post_object reads them (bounded) and refuses such forms.
 */
export function refusePlaintext(mode: 'forward' | 'refuse', events: KeyEvents): Stage {
  return {
    name: 'refuse_plaintext',
    run(ctx) {
      if (ctx.listener !== 'http') return;
      if (hasSseCHeader(ctx.headers) || hasSseCQuery(ctx.req.url ?? '')) {
        const query = new URLSearchParams((ctx.req.url ?? '').split('?')[1] ?? '');
        for (const name of [SSEC.key, COPY_SSEC.key]) {
          const fromQuery = [...query.entries()].filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
          const v = ctx.headers[name] ?? (fromQuery.length ? fromQuery : undefined);
          for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
            if (value.trim() !== '') events.exposed({ keyHeaderValue: value, header: name, client: ctx.remoteAddress, listener: ctx.listener, requestId: ctx.id });
          }
        }
        ctx.sseCOutcome = 'rejected_plaintext';
        throw new GatewayError('PlaintextSseC');
      }
      if (mode === 'refuse') throw new GatewayError('PlaintextClosed');
    },
  };
}
