import { createHash } from 'node:crypto';

/**
 * Grammars for every value that comes from an identity provider and reaches AWS or a storage key.
 * Values outside a grammar are rejected, never "cleaned up": normalising creates collisions
 * (`a/b` and `a_b` would become the same user).
 */
export const SUBJECT_PATTERN = /^[A-Za-z0-9._:@|-]{1,128}$/;
/** Group names may contain inner spaces (directory display names) but no control or wildcard characters. */
export const GROUP_PATTERN = /^[A-Za-z0-9._:@/+=-](?:[A-Za-z0-9._:@/+= -]{0,126}[A-Za-z0-9._:@/+=-])?$/;
export const ISSUER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,30}$/;
export const ENTITLEMENT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** An ASCII-only subset of STS's tag value charset: look-alike letters never reach a tag. */
export const SAFE_TAG_VALUE_PATTERN = /^[A-Za-z0-9 _.:/=+@-]{1,256}$/;
export const TAG_KEY_PATTERN = /^(?!aws:)[A-Za-z0-9_.:/=+@-]{1,128}$/i;
/** What may be substituted into a policy: no `/ . * ? $ %`, so no wildcard, path or variable can form. */
export const POLICY_SAFE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const USER_KEY_PATTERN = /^[a-z2-7]{26}$/;

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The opaque, stable key of a person: base32(SHA-256(issuer "\n" subject)), 26 characters (130 bits).
 * Subjects are unique only per issuer (OIDC Core §2), so the issuer is part of the key, and the key's
 * alphabet can never form a wildcard, a path or a policy variable.
 */
export function deriveUserKey(issuer: string, subject: string): string {
  const digest = createHash('sha256').update(`${issuer}\n${subject}`, 'utf8').digest();
  return base32(digest).slice(0, 26);
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * A name shown to people (an IdP's button label, the portal's "Signed in as"): 1-64 printable characters, no
 * control or bidirectional-override characters, so it cannot reshape the page or the log around it. Display only.
 */
export const DISPLAY_NAME_PATTERN = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,64}$/u;
