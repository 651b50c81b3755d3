// etcd identifies members and clusters by 64-bit numbers; chainfire derives them from node ids
// (and the voter set) with SHA-256, so every member computes the same ids without coordination.
import { createHash } from 'node:crypto';

export function id64(text: string): bigint {
  const digest = createHash('sha256').update(text).digest();
  const value = digest.readBigUInt64BE(0);
  return value === 0n ? 1n : value;
}

export function clusterId(voters: readonly string[]): bigint {
  return id64([...voters].sort().join(','));
}
