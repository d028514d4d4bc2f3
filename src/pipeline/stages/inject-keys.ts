import type { PolicyFile } from '../../auth/policy-file.js';
import { injectKeys } from '../../sse-c/injection.js';
import type { Keyring } from '../../sse-c/keyring.js';
import type { Stage } from '../../request/context.js';

/** Key injection by policy (sigv4 and none modes): the client's rules first, then the file-wide ones. */
export function injectKeysStage(policy: () => PolicyFile, keyring: () => Keyring): Stage {
  return {
    name: 'inject_keys',
    run(ctx) {
      const p = policy();
      const rules = [...(ctx.principal?.client?.inject ?? []), ...p.inject];
      injectKeys(ctx, rules, keyring());
    },
  };
}
