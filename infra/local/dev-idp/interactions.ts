import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { errors } from 'oidc-provider';
import type { GrantModel, Interaction, Provider } from 'oidc-provider';

import { findDemoUserByUsername } from './demo-users.ts';
import { consentPage, loginPage, messagePage } from './pages.ts';

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(\/abort)?$/u;
const MAX_FORM_BYTES = 16 * 1024;

export type InteractionHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<void>;

/**
 * The login and consent pages at `/interaction/:uid`. They stand in for oidc-provider's
 * devInteractions, whose login form shows a password field but accepts any login without
 * checking it; here the password must match the demo user's, and the session's account id is
 * the user's stable `sub` rather than the typed username.
 */
export function createInteractionHandler(provider: Provider, clientLabel: (clientId: string) => string): InteractionHandler {
  return async (req, res, pathname) => {
    const match = ROUTE.exec(pathname);
    if (!match) {
      send(res, 404, messagePage('Not found', 'No such page.'));
      return;
    }
    const [, uid, abort] = match;
    try {
      const interaction = await provider.interactionDetails(req, res);
      if (interaction.uid !== uid) {
        send(res, 400, messagePage('Sign-in expired', 'This sign-in page belongs to another request. Start again from the application.'));
        return;
      }
      const submitUrl = `/interaction/${interaction.uid}`;
      const abortUrl = `${submitUrl}/abort`;
      const clientName = clientLabel(interaction.params['client_id'] ?? '');

      if (req.method === 'GET' && abort) {
        await provider.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'End-User aborted interaction' },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      if (req.method === 'GET') {
        send(res, 200, render(interaction, { submitUrl, abortUrl, clientName }));
        return;
      }
      if (req.method !== 'POST' || abort) {
        send(res, 405, messagePage('Not allowed', 'Use the form.'));
        return;
      }

      const form = await readForm(req);
      const prompt = form.get('prompt');
      if (prompt !== interaction.prompt.name) {
        send(
          res,
          400,
          messagePage('Sign-in out of step', `Expected the ${interaction.prompt.name} step. Start again from the application.`),
        );
        return;
      }
      if (prompt === 'login') {
        const login = form.get('login') ?? '';
        const user = findDemoUserByUsername(login);
        const passwordMatches = constantTimeEquals(form.get('password') ?? '', user?.password ?? '');
        if (!user || !passwordMatches) {
          send(res, 401, loginPage({ submitUrl, abortUrl, clientName, loginHint: login, error: 'Unknown user or wrong password.' }));
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
        return;
      }
      if (prompt === 'consent') {
        const grantId = await grantConsent(provider, interaction);
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      send(res, 501, messagePage('Not implemented', `The ${interaction.prompt.name} step is not supported.`));
    } catch (error) {
      if (error instanceof errors.SessionNotFound) {
        send(res, 400, messagePage('Sign-in expired', 'This sign-in request is unknown or has expired. Start again from the application.'));
        return;
      }
      if (error instanceof FormError) {
        send(res, error.status, messagePage('Bad request', error.message));
        return;
      }
      console.error('dev-idp: interaction failed', error);
      if (!res.headersSent) send(res, 500, messagePage('Error', 'The sign-in failed; see the dev IdP log.'));
    }
  };
}

function render(interaction: Interaction, urls: { submitUrl: string; abortUrl: string; clientName: string }): string {
  const { prompt, params } = interaction;
  if (prompt.name === 'login') {
    const loginHint = params['login_hint'];
    return loginPage({ ...urls, ...(loginHint === undefined ? {} : { loginHint }) });
  }
  const items = [
    ...(prompt.details.missingOIDCScope ?? []).filter((scope) => scope !== 'openid').map((scope) => `scope: ${scope}`),
    ...(prompt.details.missingOIDCClaims ?? []).map((claim) => `claim: ${claim}`),
    ...Object.entries(prompt.details.missingResourceScopes ?? {}).map(([resource, scopes]) => `${resource}: ${scopes.join(' ')}`),
  ];
  return consentPage({ ...urls, items });
}

async function grantConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const { details } = interaction.prompt;
  let grant: GrantModel | undefined = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId);
  grant ??= new provider.Grant({
    ...(interaction.session?.accountId === undefined ? {} : { accountId: interaction.session.accountId }),
    ...(interaction.params['client_id'] === undefined ? {} : { clientId: interaction.params['client_id'] }),
  });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  for (const detail of details.rar ?? []) grant.addRar(detail);
  return grant.save();
}

function constantTimeEquals(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected)) && expected !== '';
}

class FormError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new FormError(415, 'Expected a form submission.');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_FORM_BYTES) throw new FormError(413, 'Form too large.');
    chunks.push(buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}
