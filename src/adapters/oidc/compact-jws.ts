const SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * True when a compact JWS has exactly three segments, each in canonical unpadded base64url: only the
 * URL-safe alphabet, no padding, no impossible length, and no non-zero unused bits in the last character.
 * Decoders (jose's included) accept the non-canonical spellings, so one signed token would otherwise
 * have many strings: a revocation or replay list keyed on the token, or on its hash, could be bypassed
 * (security catalog J-16, Wycheproof "MacOfIncorrectlyEncodedMessage").
 */
export function isCanonicalCompactJws(token: string): boolean {
  const segments = token.split('.');
  return segments.length === 3 && segments.every(isCanonicalBase64Url);
}

function isCanonicalBase64Url(segment: string): boolean {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) return false;
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
}
