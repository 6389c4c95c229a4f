import { X509Certificate } from 'node:crypto';

/** NIST SP 800-131A: RSA under 2048 bits is disallowed for signatures; 1024-bit moduli are within reach. */
const MIN_RSA_BITS = 2048;
const MIN_RSA_EXPONENT = 65_537;
/** P-256 and stronger (OpenSSL's names). */
const STRONG_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/**
 * Why a pinned IdP certificate may not verify signatures ("holds an RSA key of 1024 bits …"), or undefined when it may: RSA (or RSA-PSS) of at
 * least 2048 bits with an exponent of at least 65537, or EC on P-256 or stronger. Checked when the configuration
 * is loaded (config-saml.ts) and again by the verifier, which refuses every response of an IdP pinned to such a key.
 */
export function signingKeyProblem(pem: string): string | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return 'is not a valid X.509 PEM';
  }
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) return `holds an RSA key of ${bits} bits (at least ${MIN_RSA_BITS} are required)`;
    if (details.publicExponent === undefined || details.publicExponent < BigInt(MIN_RSA_EXPONENT))
      return 'holds an RSA key with a public exponent below 65537';
    return undefined;
  }
  if (key.asymmetricKeyType === 'ec') {
    return STRONG_CURVES.has(details.namedCurve ?? '')
      ? undefined
      : `holds an EC key on ${details.namedCurve ?? 'an unknown curve'} (P-256 or stronger is required)`;
  }
  return `holds an ${key.asymmetricKeyType ?? 'unknown'} key (RSA of 2048 bits or more, or EC P-256 or stronger, is required)`;
}
