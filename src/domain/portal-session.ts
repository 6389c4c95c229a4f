import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  DISPLAY_NAME_PATTERN,
  GROUP_PATTERN,
  ISSUER_ID_PATTERN,
  SAFE_TAG_VALUE_PATTERN,
  SUBJECT_PATTERN,
  deriveUserKey,
} from './identifiers.ts';
import type { Principal } from './principal.ts';

/**
 * Signed browser state for the portal: the session cookie and the sign-in transaction cookies (OIDC and SAML). Each is
 * `base64url(JSON).base64url(HMAC-SHA256(purpose "." body))`: the purpose in the MAC keeps a transaction
 * cookie from ever passing for a session. The payload holds no AWS credential and no token, only the
 * verified principal's allow-listed fields, a CSRF token and the expiry; it is read back through the
 * same grammars the verifier applied, so a key leak cannot smuggle an unchecked value into a policy.
 */
export type SealPurpose = 'session' | 'login' | 'saml-request';

const MAX_COOKIE_CHARS = 3800;

export function seal(purpose: SealPurpose, payload: object, key: Buffer): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(purpose, body, key)}`;
}

/** The payload when the MAC is right for this purpose, else undefined. Expiry is the caller's to check. */
export function unseal(purpose: SealPurpose, value: string | undefined, key: Buffer): Record<string, unknown> | undefined {
  if (value === undefined || value.length > MAX_COOKIE_CHARS) return undefined;
  const [body, signature, extra] = value.split('.');
  if (body === undefined || signature === undefined || extra !== undefined) return undefined;
  const expected = Buffer.from(mac(purpose, body, key), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function mac(purpose: SealPurpose, body: string, key: Buffer): string {
  return createHmac('sha256', key).update(`${purpose}.${body}`, 'utf8').digest('base64url');
}

export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Constant-time comparison of two tokens (CSRF, state, nonce). */
export function tokensMatch(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface PortalSession {
  readonly principal: Principal;
  /** A name to greet the person by (display only: not part of the principal, so it decides nothing). */
  readonly displayName?: string;
  /** Synchronizer token: every state-changing form carries it, and it lives only inside this signed cookie. */
  readonly csrfToken: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export function newPortalSession(principal: Principal, nowSeconds: number, lifetimeSeconds: number, displayName?: string): PortalSession {
  // A session never outlives the sign-in that created it.
  const expiresAt = Math.min(nowSeconds + lifetimeSeconds, Math.max(principal.auth.expiresAt, nowSeconds + 60));
  const name = displayName !== undefined && DISPLAY_NAME_PATTERN.test(displayName) ? { displayName } : {};
  return { principal, ...name, csrfToken: randomToken(), issuedAt: nowSeconds, expiresAt };
}

export function sealSession(session: PortalSession, key: Buffer): string {
  const p = session.principal;
  return seal(
    'session',
    {
      v: 1,
      idp: p.idpType,
      iid: p.issuerId,
      iss: p.issuer,
      sub: p.subject,
      grp: p.groups,
      att: p.attributes,
      auth: p.auth,
      ...(session.displayName === undefined ? {} : { dn: session.displayName }),
      csrf: session.csrfToken,
      iat: session.issuedAt,
      exp: session.expiresAt,
    },
    key,
  );
}

export type SessionCheck =
  | { ok: true; session: PortalSession }
  | { ok: false; reason: 'no_session' | 'bad_signature' | 'session_expired' | 'session_malformed' };

export function openSession(value: string | undefined, key: Buffer, nowSeconds: number): SessionCheck {
  if (value === undefined || value === '') return { ok: false, reason: 'no_session' };
  const p = unseal('session', value, key);
  if (p === undefined) return { ok: false, reason: 'bad_signature' };
  const { iid, iss, sub, grp, att, auth, csrf, iat, exp, idp, dn } = p;
  if (typeof exp !== 'number' || typeof iat !== 'number') return { ok: false, reason: 'session_malformed' };
  if (nowSeconds >= exp) return { ok: false, reason: 'session_expired' };
  const groups = Array.isArray(grp) ? grp : undefined;
  const attributes = typeof att === 'object' && att !== null && !Array.isArray(att) ? (att as Record<string, unknown>) : undefined;
  const tokenAuth = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>) : undefined;
  if (
    p['v'] !== 1 ||
    (idp !== 'oidc' && idp !== 'saml') ||
    typeof iid !== 'string' ||
    !ISSUER_ID_PATTERN.test(iid) ||
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    !SUBJECT_PATTERN.test(sub) ||
    groups === undefined ||
    !groups.every((g) => typeof g === 'string' && GROUP_PATTERN.test(g)) ||
    attributes === undefined ||
    !Object.values(attributes).every((a) => typeof a === 'string' && SAFE_TAG_VALUE_PATTERN.test(a)) ||
    tokenAuth === undefined ||
    typeof tokenAuth['issuedAt'] !== 'number' ||
    typeof tokenAuth['expiresAt'] !== 'number' ||
    typeof tokenAuth['tokenRef'] !== 'string' ||
    typeof csrf !== 'string' ||
    csrf.length < 32
  ) {
    return { ok: false, reason: 'session_malformed' };
  }
  const optional = (name: string) => (typeof tokenAuth[name] === 'string' ? { [name]: tokenAuth[name] as string } : {});
  const principal: Principal = {
    idpType: idp,
    issuerId: iid,
    issuer: iss,
    subject: sub,
    userKey: deriveUserKey(iss, sub),
    groups: groups as string[],
    attributes: Object.freeze(Object.assign(Object.create(null) as Record<string, string>, attributes)),
    auth: {
      ...optional('keyId'),
      ...optional('tokenId'),
      ...optional('clientId'),
      issuedAt: tokenAuth['issuedAt'] as number,
      expiresAt: tokenAuth['expiresAt'] as number,
      tokenRef: tokenAuth['tokenRef'] as string,
    },
  };
  // The display name is read back through its grammar too; one that fails it is dropped, since it decides nothing.
  const displayName = typeof dn === 'string' && DISPLAY_NAME_PATTERN.test(dn) ? { displayName: dn } : {};
  return { ok: true, session: { principal, ...displayName, csrfToken: csrf, issuedAt: iat, expiresAt: exp } };
}

/** What the portal remembers between sending a person to the IdP and their return. */
export interface LoginTransaction {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly expiresAt: number;
}

export const LOGIN_TRANSACTION_SECONDS = 600;

export function sealLoginTransaction(transaction: LoginTransaction, key: Buffer): string {
  return seal('login', { s: transaction.state, n: transaction.nonce, v: transaction.codeVerifier, exp: transaction.expiresAt }, key);
}

export function openLoginTransaction(value: string | undefined, key: Buffer, nowSeconds: number): LoginTransaction | undefined {
  const p = unseal('login', value, key);
  if (p === undefined) return undefined;
  const { s, n, v, exp } = p;
  if (typeof s !== 'string' || typeof n !== 'string' || typeof v !== 'string' || typeof exp !== 'number' || nowSeconds >= exp)
    return undefined;
  return { state: s, nonce: n, codeVerifier: v, expiresAt: exp };
}

/**
 * The AuthnRequest a browser is waiting for an answer to (SP-initiated SAML sign-in): its id, which the response's
 * InResponseTo must repeat, and the IdP it was sent to. Only this browser holds it, so an attacker cannot post an
 * answer to it (login CSRF): their own responses answer their own requests, or none.
 */
export interface SamlRequestTransaction {
  readonly id: string;
  readonly idpId: string;
  readonly expiresAt: number;
}

/** Long enough to type a password and pass MFA at the IdP; the assertion's own validity is minutes too. */
export const SAML_REQUEST_SECONDS = 600;

/** `_` and 40 hex digits: an XML NCName (SAML Core §1.3.4) with 160 random bits. */
export const newSamlRequestId = (): string => `_${randomBytes(20).toString('hex')}`;
const SAML_REQUEST_ID_PATTERN = /^_[0-9a-f]{40}$/;

export function sealSamlRequest(transaction: SamlRequestTransaction, key: Buffer): string {
  return seal('saml-request', { id: transaction.id, idp: transaction.idpId, exp: transaction.expiresAt }, key);
}

export function openSamlRequest(value: string | undefined, key: Buffer, nowSeconds: number): SamlRequestTransaction | undefined {
  const p = unseal('saml-request', value, key);
  if (p === undefined) return undefined;
  const { id, idp, exp } = p;
  if (typeof id !== 'string' || !SAML_REQUEST_ID_PATTERN.test(id) || typeof idp !== 'string' || !ISSUER_ID_PATTERN.test(idp))
    return undefined;
  if (typeof exp !== 'number' || nowSeconds >= exp) return undefined;
  return { id, idpId: idp, expiresAt: exp };
}
