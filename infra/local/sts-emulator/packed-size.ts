/**
 * The emulator's PackedPolicySize. Real STS packs session policies and tags into an undocumented binary format with
 * a separate limit; this is a deterministic stand-in with the same behaviour (grows with content, compresses
 * repetitive text well, exceeds 100% for large high-entropy input):
 *
 *   input   = [minified policy JSON, ...policy ARNs, ...tags as "key=value" (sorted by lower-cased key)].join("\n")
 *   percent = ceil(100 × byteLength(deflateRaw(input, level 9)) / PACKED_BUDGET_BYTES),  PACKED_BUDGET_BYTES = 1024
 *
 * (0 when there is no policy, no policy ARN and no tag.) Transitive tag keys do not count, as in STS; inherited
 * transitive tags do. > 100 → PackedPolicyTooLarge. A 2048-character policy of ordinary statements lands around
 * 20–60%; one full of random resource names, or 50 long random tags, goes over 100%.
 */
import { deflateRawSync } from 'node:zlib';
import type { SessionTag } from './types.ts';

export const PACKED_BUDGET_BYTES = 1024;

export interface PackedInput {
  /** Parsed (valid) policy document, re-serialised minified so that whitespace does not count. */
  policyDocument?: unknown;
  policyArns: readonly string[];
  tags: readonly SessionTag[];
}

export function packedPolicySize({ policyDocument, policyArns, tags }: PackedInput): number {
  const parts: string[] = [];
  if (policyDocument !== undefined) parts.push(JSON.stringify(policyDocument));
  parts.push(...policyArns);
  const sortedTags = [...tags].sort((a, b) => (a.Key.toLowerCase() < b.Key.toLowerCase() ? -1 : 1));
  parts.push(...sortedTags.map((t) => `${t.Key}=${t.Value}`));
  if (parts.length === 0) return 0;
  const packed = deflateRawSync(Buffer.from(parts.join('\n'), 'utf8'), { level: 9 });
  return Math.ceil((100 * packed.length) / PACKED_BUDGET_BYTES);
}
