import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clearCookie, cookieNames, parseForm, portalHeaders, readCookie, setCookie } from '../../../src/http/portal-http.ts';
import {
  escapeHtml,
  homePage,
  PORTAL_CSS,
  PORTAL_CSS_HASH,
  PORTAL_SCRIPT,
  PORTAL_SCRIPT_HASH,
  signedOutPage,
  timeLeft,
} from '../../../src/http/portal-pages.ts';

const event = (fields: Partial<APIGatewayProxyEventV2>): APIGatewayProxyEventV2 => ({ headers: {}, ...fields }) as APIGatewayProxyEventV2;

describe('portal cookies', () => {
  it('are HttpOnly and SameSite=Lax, Secure with the __Host- prefix outside plain-http localhost', () => {
    // Act
    const secure = setCookie(cookieNames(true).session, 'v', { secure: true, path: '/', maxAgeSeconds: 1800 });
    const local = setCookie(cookieNames(false).session, 'v', { secure: false, path: '/', maxAgeSeconds: 1800 });

    // Assess
    expect(secure).toBe('__Host-keyvend_session=v; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure');
    expect(local).toBe('keyvend_session=v; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax');
    expect(clearCookie('keyvend_session', { secure: false, path: '/' })).toContain('Max-Age=0');
  });

  it("lets the SAML request cookie ride the IdP's cross-site POST: SameSite=None and Secure over https, Lax on plain-http loopback", () => {
    // Act
    const secure = setCookie(cookieNames(true).samlRequest, 'v', {
      secure: true,
      path: '/portal/saml/acs',
      maxAgeSeconds: 600,
      crossSitePost: true,
    });
    const local = setCookie(cookieNames(false).samlRequest, 'v', {
      secure: false,
      path: '/portal/saml/acs',
      maxAgeSeconds: 600,
      crossSitePost: true,
    });

    // Assess: browsers drop SameSite=None without Secure; the local dev IdP on another loopback port is the same site
    expect(secure).toBe('__Secure-keyvend_saml_request=v; Path=/portal/saml/acs; Max-Age=600; HttpOnly; SameSite=None; Secure');
    expect(local).toBe('keyvend_saml_request=v; Path=/portal/saml/acs; Max-Age=600; HttpOnly; SameSite=Lax');
  });

  it('reads a cookie once, and refuses two cookies of the same name', () => {
    expect(readCookie(event({ cookies: ['a=1', 'keyvend_session=x.y'] }), 'keyvend_session')).toBe('x.y');
    expect(readCookie(event({ headers: { cookie: 'a=1; keyvend_session=x.y' } }), 'keyvend_session')).toBe('x.y');
    expect(readCookie(event({ cookies: ['keyvend_session=mine', 'keyvend_session=planted'] }), 'keyvend_session')).toBeUndefined();
    expect(readCookie(event({}), 'keyvend_session')).toBeUndefined();
  });
});

describe('portal forms', () => {
  const form = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    event({ body, headers: { 'content-type': contentType } });

  it('accepts the named fields', () => {
    expect(parseForm(form('csrf=abc&entitlement=console-readonly'), ['csrf', 'entitlement'])).toEqual({
      csrf: 'abc',
      entitlement: 'console-readonly',
    });
  });

  it('refuses repeated or unexpected fields, other media types and large bodies', () => {
    expect(() => parseForm(form('csrf=a&csrf=b'), ['csrf'])).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => parseForm(form('csrf=a&roleArn=x'), ['csrf'])).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => parseForm(form('{"csrf":"a"}', 'application/json'), ['csrf'])).toThrow(
      expect.objectContaining({ code: 'unsupported_media_type' }),
    );
    expect(() => parseForm(form(`csrf=${'a'.repeat(5000)}`), ['csrf'])).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });
});

describe('portal headers and pages', () => {
  it('sends a strict CSP whose style hash is the inline stylesheet, and lists only the federation origin as a form target', () => {
    // Act
    const headers = portalHeaders({ secure: true, formTargets: ['https://signin.aws.amazon.com'] });

    // Assess
    expect(PORTAL_CSS_HASH).toBe(`sha256-${createHash('sha256').update(PORTAL_CSS).digest('base64')}`);
    expect(PORTAL_SCRIPT_HASH).toBe(`sha256-${createHash('sha256').update(PORTAL_SCRIPT).digest('base64')}`);
    expect(headers['content-security-policy']).toBe(
      `default-src 'none'; style-src '${PORTAL_CSS_HASH}'; script-src '${PORTAL_SCRIPT_HASH}'; img-src 'self' data:; form-action 'self' https://signin.aws.amazon.com; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(headers).toMatchObject({ 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY', 'cache-control': 'no-store' });
    expect(headers['strict-transport-security']).toBeDefined();
  });

  it('escapes every value it renders and loads nothing from elsewhere', () => {
    // Act
    const html = homePage({
      subject: '<script>alert(1)</script>',
      csrfToken: '"><img src=x>',
      entitlements: [{ id: 'x', description: '<b>d</b>', roleArn: 'arn:aws:iam::111111111111:role/x', outputs: ['console'] }],
      expiresAt: new Date(0),
      now: new Date(0),
      displayName: '<i>Alice</i>',
    });

    // Assess: the one script is the page's own (allowed by its hash), and nothing a value carried became markup
    const pageOwnScript = `<script>${PORTAL_SCRIPT}</script>`;
    expect(html.split(pageOwnScript)).toHaveLength(2);
    const withoutOwnScript = html.replace(pageOwnScript, '');
    expect(withoutOwnScript).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<i>');
    expect(html).toContain(escapeHtml('"><img src=x>'));
    expect(withoutOwnScript).not.toMatch(
      /<script|<link(?! rel="icon" type="image\/svg\+xml" href="data:image\/svg\+xml,)|https?:\/\/(?!www\.w3)/,
    );
    expect(html).toContain('name="viewport"');
  });

  it('shows the display name beside the subject, and the expiry in UTC with the time left', () => {
    // Act
    const html = homePage({
      subject: '7f3a9c1e',
      displayName: 'Alice Example',
      csrfToken: 'c',
      entitlements: [],
      expiresAt: new Date('2026-11-29T14:57:30Z'),
      now: new Date('2026-11-29T14:28:00Z'),
    });

    // Assess
    expect(html).toContain('Signed in as <strong id="display-name">Alice Example</strong>');
    expect(html).toContain('<span id="subject">7f3a9c1e</span>');
    expect(html).toContain('<time datetime="2026-11-29T14:57:30Z">2026-11-29 14:57 UTC</time> (<span id="time-left">in 30 minutes</span>)');
  });

  it.each([
    [0.4, 'in less than a minute'],
    [1, 'in 1 minute'],
    [29, 'in 29 minutes'],
    [60, 'in 1 hour'],
    [125, 'in 2 hours 5 minutes'],
    [-1, 'expired'],
  ])('says %s minutes left as "%s"', (minutes, words) => {
    expect(timeLeft(new Date(minutes * 60_000), new Date(0))).toBe(words);
  });

  it('confirms a sign-out and offers the way back in, and the IdP sign-out when there is one', () => {
    // Act
    const withIdp = signedOutPage({ issuerName: 'Corp SSO', idpLogoutUrl: 'https://idp.example.com/logout?x=1&y=2' });
    const without = signedOutPage({ issuerName: 'Corp SSO' });

    // Assess
    expect(withIdp).toContain('<h1 id="signed-out-heading">You are signed out</h1>');
    expect(withIdp).toContain('href="https://idp.example.com/logout?x=1&amp;y=2">Also sign out of Corp SSO</a>');
    expect(without).toContain('You may still be signed in at Corp SSO');
    expect(without).toContain('<a class="button" href="/portal">Sign in again</a>');
  });
});
