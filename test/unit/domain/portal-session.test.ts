import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  newPortalSession,
  newSamlRequestId,
  openLoginTransaction,
  openSamlRequest,
  openSession,
  sealSamlRequest,
  seal,
  sealLoginTransaction,
  sealSession,
  tokensMatch,
} from '../../../src/domain/portal-session.ts';
import type { Principal } from '../../../src/domain/principal.ts';

const key = randomBytes(32);
const NOW = 1_800_000_000;
const principal: Principal = {
  idpType: 'oidc',
  issuerId: 'dev',
  issuer: 'https://idp.example.com',
  subject: 'alice-0001',
  userKey: 'ignored-and-rederived',
  groups: ['console-users'],
  attributes: { department: 'research' },
  auth: { keyId: 'k1', issuedAt: NOW - 10, expiresAt: NOW + 3600, tokenRef: 'sha256:abc' },
};

describe('portal session cookie', () => {
  it('round-trips the allow-listed principal fields and re-derives the user key', () => {
    // Prepare
    const session = newPortalSession(principal, NOW, 1800);

    // Act
    const opened = openSession(sealSession(session, key), key, NOW + 60);

    // Assess
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.session.principal).toMatchObject({
      issuerId: 'dev',
      subject: 'alice-0001',
      groups: ['console-users'],
      attributes: { department: 'research' },
    });
    expect(opened.session.principal.userKey).toMatch(/^[a-z2-7]{26}$/);
    expect(opened.session.csrfToken).toBe(session.csrfToken);
    expect(opened.session.expiresAt).toBe(NOW + 1800);
  });

  it('holds no token and no credential', () => {
    // Act
    const cookie = sealSession(newPortalSession(principal, NOW, 1800), key);

    // Assess
    const payload = Buffer.from(cookie.split('.')[0] ?? '', 'base64url').toString('utf8');
    expect(Object.keys(JSON.parse(payload) as object).sort()).toEqual([
      'att',
      'auth',
      'csrf',
      'exp',
      'grp',
      'iat',
      'idp',
      'iid',
      'iss',
      'sub',
      'v',
    ]);
  });

  it('never outlives the sign-in it came from', () => {
    // Act
    const session = newPortalSession({ ...principal, auth: { ...principal.auth, expiresAt: NOW + 300 } }, NOW, 1800);

    // Assess
    expect(session.expiresAt).toBe(NOW + 300);
  });

  it('is refused once expired', () => {
    // Prepare
    const cookie = sealSession(newPortalSession(principal, NOW, 1800), key);

    // Act + Assess
    expect(openSession(cookie, key, NOW + 1800)).toEqual({ ok: false, reason: 'session_expired' });
  });

  it('is refused when tampered with, signed with another key, or absent', () => {
    // Prepare
    const cookie = sealSession(newPortalSession(principal, NOW, 1800), key);
    const [body = '', signature = ''] = cookie.split('.');
    const forgedBody = Buffer.from(Buffer.from(body, 'base64url').toString('utf8').replace('"console-users"', '"admins"'), 'utf8').toString(
      'base64url',
    );
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;

    // Act + Assess
    expect(openSession(`${forgedBody}.${signature}`, key, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(openSession(`${body}.${flipped}`, key, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(openSession(`${body}.${signature}.extra`, key, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(openSession(cookie, randomBytes(32), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(openSession(undefined, key, NOW)).toEqual({ ok: false, reason: 'no_session' });
    expect(openSession('', key, NOW)).toEqual({ ok: false, reason: 'no_session' });
  });

  it('refuses a login-transaction cookie presented as a session, and the reverse', () => {
    // Prepare
    const transaction = sealLoginTransaction(
      { state: 's'.repeat(43), nonce: 'n'.repeat(43), codeVerifier: 'v'.repeat(43), expiresAt: NOW + 600 },
      key,
    );
    const session = sealSession(newPortalSession(principal, NOW, 1800), key);

    // Act + Assess
    expect(openSession(transaction, key, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(openLoginTransaction(session, key, NOW)).toBeUndefined();
    expect(openLoginTransaction(transaction, key, NOW)).toMatchObject({ state: 's'.repeat(43) });
    expect(openLoginTransaction(transaction, key, NOW + 600)).toBeUndefined();
  });

  it('re-checks every field against the verifier grammars, even when genuinely signed', () => {
    // Prepare: what a leaked key could produce
    const base = {
      v: 1,
      idp: 'oidc',
      iid: 'dev',
      iss: 'https://idp.example.com',
      sub: 'alice',
      grp: ['g'],
      att: {},
      auth: { issuedAt: NOW, expiresAt: NOW + 60, tokenRef: 'x' },
      csrf: 'c'.repeat(43),
      iat: NOW,
      exp: NOW + 60,
    };

    // Act + Assess
    expect(openSession(seal('session', base, key), key, NOW).ok).toBe(true);
    for (const bad of [
      { sub: 'alice/../*' },
      { grp: ['a*'] },
      { att: { department: 'a"b' } },
      { iid: 'DEV' },
      { csrf: 'short' },
      { v: 2 },
    ]) {
      expect(openSession(seal('session', { ...base, ...bad }, key), key, NOW), JSON.stringify(bad)).toEqual({
        ok: false,
        reason: 'session_malformed',
      });
    }
  });
});

describe('CSRF and state comparison', () => {
  it('matches only the same non-empty string', () => {
    const token = 'a'.repeat(43);
    expect(tokensMatch(token, token)).toBe(true);
    expect(tokensMatch(token, `${token}a`)).toBe(false);
    expect(tokensMatch(token, 'b'.repeat(43))).toBe(false);
    expect(tokensMatch(token, '')).toBe(false);
    expect(tokensMatch(token, undefined)).toBe(false);
    expect(tokensMatch(token, [token])).toBe(false);
  });
});

describe('SAML request cookie (SP-initiated sign-in)', () => {
  it('round-trips the request id and IdP until it expires, and never passes for another cookie', () => {
    // Prepare
    const id = newSamlRequestId();
    const cookie = sealSamlRequest({ id, idpId: 'dev-saml', expiresAt: NOW + 600 }, key);

    // Act + Assess
    expect(id).toMatch(/^_[0-9a-f]{40}$/);
    expect(openSamlRequest(cookie, key, NOW)).toEqual({ id, idpId: 'dev-saml', expiresAt: NOW + 600 });
    expect(openSamlRequest(cookie, key, NOW + 600)).toBeUndefined();
    expect(openSamlRequest(cookie, randomBytes(32), NOW)).toBeUndefined();
    expect(
      openSamlRequest(sealLoginTransaction({ state: 's', nonce: 'n', codeVerifier: 'v', expiresAt: NOW + 600 }, key), key, NOW),
    ).toBeUndefined();
    expect(openSession(cookie, key, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(openSamlRequest(seal('saml-request', { id: 'chosen', idp: 'dev-saml', exp: NOW + 600 }, key), key, NOW)).toBeUndefined();
  });
});
