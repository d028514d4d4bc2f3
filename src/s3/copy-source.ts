/** `x-amz-copy-source: /bucket/key?versionId=…` (leading slash optional, percent-encoded). */
export function parseCopySource(value: string | string[] | undefined): { bucket: string; key: string; versionId?: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const q = value.indexOf('?');
  const path = (q >= 0 ? value.slice(0, q) : value).replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) return undefined; // no bucket, or no key: InvalidCopySource
  try {
    const versionId = q >= 0 ? new URLSearchParams(value.slice(q + 1)).get('versionId') ?? undefined : undefined;
    return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)), versionId };
  } catch {
    return undefined;
  }
}
