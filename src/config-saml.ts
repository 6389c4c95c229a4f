import * as v from 'valibot';
import type { SamlIdpSettings } from './domain/identity-providers.ts';
import { signingKeyProblem } from './domain/saml-key-policy.ts';
import { DISPLAY_NAME_PATTERN, ISSUER_ID_PATTERN } from './domain/identifiers.ts';
import { isSecureTransport } from './domain/transport.ts';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

export interface SamlConfig {
  readonly idps: readonly SamlIdpSettings[];
  /** The broker's SP entity id, the Audience its own assertions must name. */
  readonly audience: string | undefined;
  readonly acsUrl: string | undefined;
  readonly replayTable: string | undefined;
}

const NON_EMPTY = v.pipe(v.string(), v.minLength(1), v.maxLength(1024));
const ATTRIBUTE_NAME = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_:./#-]{1,256}$/, 'attribute names are 1-256 of [A-Za-z0-9_:./#-]'));

const IDP_SCHEMA = v.strictObject({
  id: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN, 'IdP ids are 1-31 of [a-z0-9-]')),
  entityId: NON_EMPTY,
  certificates: v.pipe(
    v.array(v.pipe(v.string(), v.includes('-----BEGIN CERTIFICATE-----'))),
    v.minLength(1, 'an IdP needs at least one pinned signing certificate'),
  ),
  audiences: v.optional(v.pipe(v.array(NON_EMPTY), v.minLength(1))),
  subjectAttribute: v.optional(ATTRIBUTE_NAME),
  /** The explicit opt-in to a subject other than a persistent NameID (an attribute, or another NameID format). */
  allowMutableSubject: v.optional(v.literal(true)),
  nameIdFormats: v.optional(v.pipe(v.array(NON_EMPTY), v.minLength(1)), [PERSISTENT]),
  groupsAttribute: v.optional(ATTRIBUTE_NAME),
  tagAttributes: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/)), ATTRIBUTE_NAME), {}),
  requireSignedResponse: v.optional(v.boolean(), false),
  maxAssertionLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)), 3600),
  clockSkewSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(30)), 30),
  /** The IdP's SSO URL (HTTP-Redirect binding) for the portal's SP-initiated "Sign in with SAML" (configuration only). */
  ssoUrl: v.optional(v.pipe(v.string(), v.url(), v.maxLength(1024))),
  /** The portal's sign-in button label ("Sign in with Okta"); "SAML (<id>)" without it. */
  displayName: v.optional(v.pipe(v.string(), v.trim(), v.regex(DISPLAY_NAME_PATTERN, 'displayName is 1-64 printable characters'))),
});

/**
 * SAML settings, parsed once. Configuring an IdP without its certificate, or IdPs without the broker's
 * own audience, ACS URL and replay table, stops the function (security catalog S-11: a verifier with
 * no trust anchor must never start).
 */
export function loadSamlConfig(
  env: Record<string, string | undefined>,
  options: { localMode: boolean; fail: (message: string) => Error; warn?: (message: string) => void },
): SamlConfig {
  const raw = env['KEYVEND_SAML_IDPS']?.trim();
  const audience = env['KEYVEND_SAML_AUDIENCE']?.trim() || undefined;
  const acsUrl = env['KEYVEND_SAML_ACS_URL']?.trim() || undefined;
  const replayTable = env['KEYVEND_SAML_REPLAY_TABLE']?.trim() || undefined;
  if (raw === undefined || raw === '' || raw === '[]') return { idps: [], audience, acsUrl, replayTable };

  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw options.fail('KEYVEND_SAML_IDPS must be a JSON array of SAML IdP settings');
  }
  if (Array.isArray(json) && json.some((idp) => typeof idp === 'object' && idp !== null && Object.hasOwn(idp, 'portalSignInUrl'))) {
    // Its meaning changed, so it is not silently carried over: an IdP-initiated URL does not take an AuthnRequest.
    throw options.fail(
      "KEYVEND_SAML_IDPS: portalSignInUrl (an IdP-initiated sign-in URL) is no longer accepted: the portal refuses unsolicited responses; set ssoUrl, the IdP's SSO URL for AuthnRequests (HTTP-Redirect binding)",
    );
  }
  const parsed = v.safeParse(v.array(IDP_SCHEMA), json);
  if (!parsed.success) throw options.fail(`KEYVEND_SAML_IDPS: ${v.summarize(parsed.issues)}`);
  if (audience === undefined) throw options.fail('KEYVEND_SAML_AUDIENCE is required when SAML IdPs are configured');
  if (acsUrl === undefined) throw options.fail('KEYVEND_SAML_ACS_URL is required when SAML IdPs are configured');
  if (replayTable === undefined) throw options.fail('KEYVEND_SAML_REPLAY_TABLE is required when SAML IdPs are configured');
  let acs: URL;
  try {
    acs = new URL(acsUrl);
  } catch {
    throw options.fail('KEYVEND_SAML_ACS_URL must be a URL');
  }
  if (!isSecureTransport(acs, { allowLoopbackHttp: options.localMode })) {
    throw options.fail('KEYVEND_SAML_ACS_URL must be https (plain http only to loopback in local mode)');
  }

  const idps: SamlIdpSettings[] = parsed.output.map((idp) => {
    for (const pem of idp.certificates) {
      const problem = signingKeyProblem(pem);
      if (problem !== undefined) throw options.fail(`SAML IdP ${idp.id}: a pinned certificate ${problem}`);
    }
    const audiences = idp.audiences ?? [audience];
    for (const accepted of audiences) {
      // Assertions for AWS itself (urn:amazon:webservices) went with the saml pass-through path (docs/adr/0001-broker-as-oidc-issuer.md).
      if (accepted !== audience) throw options.fail(`SAML IdP ${idp.id}: audiences may be only ${audience}, the broker's own`);
    }
    if (idp.ssoUrl !== undefined) {
      if (!isSecureTransport(new URL(idp.ssoUrl), { allowLoopbackHttp: options.localMode })) {
        throw options.fail(`SAML IdP ${idp.id}: ssoUrl must be https (plain http only to loopback in local mode)`);
      }
    }
    // Only a persistent NameID is meant to be stable and never reassigned (SAML Core §8.3.7); an attribute
    // (uid, mail) or an email/unspecified NameID may be renamed or reused, moving grants to someone else.
    const mutable =
      idp.subjectAttribute !== undefined
        ? `subjectAttribute "${idp.subjectAttribute}"`
        : idp.nameIdFormats.some((f) => f !== PERSISTENT)
          ? 'a NameID format other than persistent'
          : undefined;
    if (mutable !== undefined && idp.allowMutableSubject !== true) {
      throw options.fail(
        `SAML IdP ${idp.id}: ${mutable} may be changed or reassigned at the IdP, letting people become each other; use the persistent NameID, or set allowMutableSubject: true`,
      );
    }
    if (mutable === undefined && idp.allowMutableSubject === true)
      throw options.fail(`SAML IdP ${idp.id}: allowMutableSubject is set but the subject is the persistent NameID: remove it`);
    if (mutable !== undefined)
      options.warn?.(
        `SAML IdP ${idp.id}: the subject is ${mutable}; if the IdP lets it change or reuses it, one person can take over another's grants`,
      );
    const { subjectAttribute, groupsAttribute, ssoUrl, displayName, allowMutableSubject: _mutable, ...rest } = idp;
    return {
      ...rest,
      audiences,
      ...(displayName === undefined ? {} : { displayName }),
      ...(subjectAttribute === undefined ? {} : { subjectAttribute }),
      ...(groupsAttribute === undefined ? {} : { groupsAttribute }),
      ...(ssoUrl === undefined ? {} : { ssoUrl }),
    };
  });
  if (new Set(idps.map((i) => i.id)).size !== idps.length || new Set(idps.map((i) => i.entityId)).size !== idps.length) {
    throw options.fail('SAML IdP ids and entity ids must be unique');
  }
  return { idps, audience, acsUrl, replayTable };
}
