/**
 * Credentials the gateway signs upstream requests with: static (value/env:/file:), the process
 * environment, or the AWS default provider chain (env, shared config, web identity / IRSA,
 * container credentials / EKS Pod Identity, SSO, process). Temporary credentials are refreshed
 * five minutes before they expire, off the request path when possible.
 */
import type { UpstreamCredentialSpec } from '../auth/policy-file.js';

export interface Credentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }
export type CredentialSource = () => Promise<Credentials>;

const REFRESH_BEFORE_MS = 5 * 60 * 1000;

export async function credentialSource(spec: UpstreamCredentialSpec, env: NodeJS.ProcessEnv = process.env): Promise<CredentialSource> {
  if (spec.source === 'static') {
    if (!spec.accessKeyId || !spec.secretAccessKey) throw new Error('static upstream credentials need accessKeyId and secretAccessKey');
    const c: Credentials = { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, sessionToken: spec.sessionToken };
    return async () => c;
  }
  if (spec.source === 'env') {
    return async () => {
      const accessKeyId = env.AWS_ACCESS_KEY_ID;
      const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
      if (!accessKeyId || !secretAccessKey) throw new Error('AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set');
      return { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined };
    };
  }
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return cached(fromNodeProviderChain(spec.profile ? { profile: spec.profile } : {}) as () => Promise<Credentials>);
}

/** Caches expiring credentials; one refresh at a time; refreshes ahead of expiry. */
export function cached(provider: () => Promise<Credentials>): CredentialSource {
  let current: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  const refresh = () => (pending ??= provider().then((c) => { current = c; return c; }).finally(() => { pending = undefined; }));
  return async () => {
    const now = Date.now();
    if (!current) return refresh();
    const exp = current.expiration?.getTime();
    if (exp !== undefined && exp - now < REFRESH_BEFORE_MS) {
      if (exp - now < 10_000) return refresh();
      void refresh().catch(() => undefined);
    }
    return current;
  };
}
