import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/** ISO-8601 without milliseconds, e.g. `2026-01-01T00:00:00Z` (the shape STS returns). */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** SigV4 "basic format" timestamp, e.g. `20260101T000000Z`. */
export function amzDate(date: Date): string {
  return isoSeconds(date).replace(/[-:]/g, '');
}

export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time string comparison (hashes first so that lengths do not leak either). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function randomString(length: number, alphabet: string): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** `ASIA` + 16 uppercase alphanumerics, like STS temporary access key ids. */
export function randomTemporaryAccessKeyId(): string {
  return `ASIA${randomString(16, UPPER_ALNUM)}`;
}

export function randomSecretAccessKey(): string {
  return randomString(40, SECRET_CHARS);
}

/** A long random token; the prefix mimics the base64 shape of real STS tokens. Clients must not parse it. */
export function randomSessionToken(): string {
  return `IQoJb3JpZ2luX2VjE${randomString(620, SECRET_CHARS)}`;
}

/** Deterministic IAM-style unique id (e.g. `AROA` + 17 chars) derived from a seed such as a role ARN. */
export function stableId(prefix: string, seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 17; i++) out += BASE32[(digest[i] ?? 0) % 32];
  return prefix + out;
}
