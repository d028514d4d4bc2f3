/**
 * Rotation policy: a key is due for rotation when it was first seen more than `maxAgeDays` ago,
 * protects more than `maxObjects` objects, or has encrypted more than `maxBytes` bytes (0 = no limit).
 * Only active keys are "overdue": retired and compromised keys have their own alerts.
 */
import type { KeyRecord } from './types.js';

export interface RotationPolicy { maxAgeDays: number; maxObjects: number; maxBytes: number }
export type OverdueReason = 'age' | 'objects' | 'bytes';

const DAY_MS = 86_400_000;

export function overdueReasons(
  r: Pick<KeyRecord, 'status' | 'firstSeen' | 'objects' | 'bytesWritten'>,
  p: RotationPolicy,
  now: Date = new Date(),
): OverdueReason[] {
  if (r.status !== 'active') return [];
  const out: OverdueReason[] = [];
  if (p.maxAgeDays > 0 && now.getTime() - r.firstSeen.getTime() > p.maxAgeDays * DAY_MS) out.push('age');
  if (p.maxObjects > 0 && r.objects > p.maxObjects) out.push('objects');
  if (p.maxBytes > 0 && r.bytesWritten > p.maxBytes) out.push('bytes');
  return out;
}

export function policyText(p: RotationPolicy): string {
  const parts = [
    p.maxAgeDays > 0 ? `age > ${p.maxAgeDays} d` : '',
    p.maxObjects > 0 ? `objects > ${p.maxObjects}` : '',
    p.maxBytes > 0 ? `bytes > ${p.maxBytes}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}
