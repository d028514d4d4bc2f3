import { FORWARDING_HEADERS, HOP_BY_HOP } from '../../s3/headers.js';
import type { Stage } from '../../request/context.js';

/**
 * Headers for the upstream: the client's headers minus hop-by-hop ones and any forwarding claims
 * the client made, plus our own `X-Forwarded-Proto: https` / `Forwarded: proto=https` — what RGW's
 * `rgw trust forwarded https` needs to treat the request as TLS. The client's Host (HTTP/2:
 * :authority) is kept verbatim, because in passthrough the client signed it.
 */
export function forwardingHeaders(): Stage {
  return {
    name: 'forwarding_headers',
    run(ctx) {
      const out = ctx.upstreamHeaders;
      // RFC 9110 §7.6.1: headers named in Connection are hop-by-hop too
      const connection = String(ctx.headers.connection ?? '').toLowerCase().split(',').map((x) => x.trim()).filter(Boolean);
      for (const [name, value] of Object.entries(ctx.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name) || connection.includes(name) || (FORWARDING_HEADERS as readonly string[]).includes(name)) continue;
        out[name] = value;
      }
      out.host = ctx.authority;
      if (ctx.listener === 'https') {
        out['x-forwarded-proto'] = 'https';
        out.forwarded = 'proto=https';
      } else {
        out['x-forwarded-proto'] = 'http';
      }
      out['x-forwarded-for'] = ctx.remoteAddress;
    },
  };
}
