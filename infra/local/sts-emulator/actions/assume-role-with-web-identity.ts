import { createRemoteJWKSet, decodeJwt, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { parseRoleArn } from '../arn.ts';
import { StsError, stsErrors } from '../errors.ts';
import { validateSessionPolicyDocument } from '../policy-document.ts';
import type { EmulatorState } from '../state.ts';
import type { LocalOidcProvider, SessionTag } from '../types.ts';
import { C, checkSourceIdentity, checkTagSemantics, LIMITS, ModelValidator, readSessionPolicyParams } from '../validation.ts';
import { issueRoleSession } from './role-session.ts';
import type { ActionHandler } from './types.ts';

/** STS's own codes for this action (the SDK adds `Exception` to the modelled ones). */
export const webIdentityErrors = {
  invalidToken: (message: string) => new StsError('InvalidIdentityToken', message, 400),
  expired: (message: string) => new StsError('ExpiredTokenException', message, 400),
  idpCommunication: (message: string) => new StsError('IDPCommunicationError', message, 400),
};

const keySets = new WeakMap<LocalOidcProvider, JWTVerifyGetKey>();

/** The provider's JWKS, located by its discovery document unless configured; a failed lookup is not cached. */
async function keysOf(provider: LocalOidcProvider): Promise<JWTVerifyGetKey> {
  let keys = keySets.get(provider);
  if (keys !== undefined) return keys;
  let jwksUri = provider.jwksUri;
  if (jwksUri === undefined) {
    const response = await fetch(`${provider.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(5000),
    });
    const discovery = (await response.json()) as { jwks_uri?: unknown };
    if (typeof discovery.jwks_uri !== 'string') throw new Error('discovery document without jwks_uri');
    jwksUri = discovery.jwks_uri;
  }
  keys = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000, cooldownDuration: 0 });
  keySets.set(provider, keys);
  return keys;
}

/** The provider for a token's `iss`, looked up before any signature check as STS does. */
function providerFor(state: EmulatorState, token: string): { provider: LocalOidcProvider; payload: JWTPayload } {
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch {
    throw webIdentityErrors.invalidToken('The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)');
  }
  const provider = state.oidcProviders.find((p) => p.issuer === payload.iss);
  if (provider === undefined) {
    throw webIdentityErrors.invalidToken(`No OpenIDConnect provider found in your account for ${String(payload.iss ?? '')}`);
  }
  return { provider, payload };
}

async function verifyToken(state: EmulatorState, token: string, now: Date): Promise<{ provider: LocalOidcProvider; claims: JWTPayload }> {
  const { provider } = providerFor(state, token);
  try {
    const { payload } = await jwtVerify(token, await keysOf(provider), { issuer: provider.issuer, currentDate: now, clockTolerance: 0 });
    const audiences = Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
    if (!audiences.some((aud) => provider.clientIds.includes(aud))) throw webIdentityErrors.invalidToken('Incorrect token audience');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw webIdentityErrors.invalidToken('Token is missing the sub claim'); // emulator wording
    return { provider, claims: payload };
  } catch (e) {
    if (e instanceof StsError) throw e;
    if (e instanceof joseErrors.JWTExpired)
      throw webIdentityErrors.expired(`Token expired: current date/time ${now.toISOString()} must be before the expiration date/time`);
    if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || (e instanceof Error && !('code' in e))) {
      throw webIdentityErrors.idpCommunication(
        "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
      );
    }
    throw webIdentityErrors.invalidToken('Signature validation failed'); // emulator wording for any other verification failure
  }
}

/**
 * Session tags and SourceIdentity come from the token: `https://aws.amazon.com/tags` with `principal_tags`
 * (`{key: [value]}`) and optional `transitive_tag_keys`, and `https://aws.amazon.com/source_identity`.
 */
function sessionAttributesOf(claims: JWTPayload): { tags: SessionTag[]; transitiveTagKeys: string[]; sourceIdentity?: string } {
  const tagsClaim = claims['https://aws.amazon.com/tags'];
  const tags: SessionTag[] = [];
  let transitiveTagKeys: string[] = [];
  if (tagsClaim !== undefined) {
    const claim = (typeof tagsClaim === 'object' && tagsClaim !== null ? tagsClaim : {}) as Record<string, unknown>;
    const principalTags = claim['principal_tags'];
    if (typeof principalTags !== 'object' || principalTags === null || Array.isArray(principalTags)) {
      throw webIdentityErrors.invalidToken('The https://aws.amazon.com/tags claim needs a principal_tags object'); // emulator wording
    }
    for (const [key, value] of Object.entries(principalTags)) {
      const single = Array.isArray(value) && value.length === 1 ? value[0] : undefined;
      if (typeof single !== 'string') throw webIdentityErrors.invalidToken(`Session tag ${key} must have exactly one string value`); // emulator wording
      tags.push({ Key: key, Value: single });
    }
    const transitive = claim['transitive_tag_keys'];
    if (transitive !== undefined) {
      if (!Array.isArray(transitive) || !transitive.every((k) => typeof k === 'string')) {
        throw webIdentityErrors.invalidToken('transitive_tag_keys must be a list of strings'); // emulator wording
      }
      transitiveTagKeys = transitive as string[];
    }
    const v = new ModelValidator();
    tags.forEach((t, i) => {
      v.string(`tags.${i + 1}.member.key`, t.Key, C.tagKey, true);
      v.string(`tags.${i + 1}.member.value`, t.Value, C.tagValue, true);
    });
    v.listLength('tags', tags, `${tags.length} tags`, LIMITS.maxTags);
    v.throwIfAny();
    checkTagSemantics({ tags, transitiveTagKeys });
  }
  const sourceIdentity = claims['https://aws.amazon.com/source_identity'];
  if (sourceIdentity === undefined) return { tags, transitiveTagKeys };
  const v = new ModelValidator();
  v.string('sourceIdentity', typeof sourceIdentity === 'string' ? sourceIdentity : String(sourceIdentity), C.sourceIdentity);
  v.throwIfAny();
  checkSourceIdentity(sourceIdentity as string);
  return { tags, transitiveTagKeys, sourceIdentity: sourceIdentity as string };
}

/**
 * AssumeRoleWithWebIdentity (unsigned). Order: model constraints → RoleArn shape → policy document → token (provider by
 * `iss`, signature against the provider's JWKS, expiry, audience in the provider's client ids) → claim tags and source
 * identity → trust policy for `Federated: <provider ARN>` with `<host/path>:aud|sub` conditions → duration (role max;
 * never chaining) → packed size.
 */
export const assumeRoleWithWebIdentity: ActionHandler = {
  name: 'AssumeRoleWithWebIdentity',
  auth: 'none',
  async handle({ params, state, now }) {
    const v = new ModelValidator();
    const roleArn = params.get('RoleArn');
    const roleSessionName = params.get('RoleSessionName');
    const token = params.get('WebIdentityToken');
    v.string('roleArn', roleArn, C.arn, true);
    v.string('roleSessionName', roleSessionName, C.roleSessionName, true);
    v.string('webIdentityToken', token, C.webIdentityToken, true);
    v.string('providerId', params.get('ProviderId'), C.providerId);
    const durationSeconds = v.integer('durationSeconds', params.get('DurationSeconds'), LIMITS.roleDuration);
    const { policy, policyArns } = readSessionPolicyParams(params, v);
    v.throwIfAny();
    if (roleArn === undefined || roleSessionName === undefined || token === undefined)
      throw stsErrors.validation('RoleArn, RoleSessionName and WebIdentityToken are required');
    if (!parseRoleArn(roleArn)) throw stsErrors.validation('Request ARN is invalid');
    const policyDocument = policy === undefined ? undefined : validateSessionPolicyDocument(policy);

    const { provider, claims } = await verifyToken(state, token, now);
    const { tags, transitiveTagKeys, sourceIdentity } = sessionAttributesOf(claims);
    const providerKey = provider.arn.slice(provider.arn.indexOf(':oidc-provider/') + ':oidc-provider/'.length);
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud ?? ''];
    const amr = claims['amr'];
    try {
      const { xml, session } = issueRoleSession(state, now, {
        iamAction: 'sts:AssumeRoleWithWebIdentity',
        provider: provider.arn,
        subject: claims.sub ?? '',
        roleArn,
        roleSessionName,
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
        ...(policy !== undefined ? { policy, policyDocument } : {}),
        policyArns,
        tags,
        transitiveTagKeys,
        ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
        principal: { type: 'Federated', id: provider.arn },
        callerArn: provider.arn,
        extraContext: {
          [`${providerKey}:aud`]: audiences.length === 1 ? audiences[0] : audiences,
          [`${providerKey}:sub`]: claims.sub,
          [`${providerKey}:amr`]: Array.isArray(amr) ? (amr as string[]) : undefined,
          'aws:FederatedProvider': provider.arn,
        },
      });
      return [
        ...xml.filter(([name]) => name !== 'SourceIdentity'),
        ['SubjectFromWebIdentityToken', session.subject],
        ['Provider', providerKey],
        ['Audience', audiences[0]],
        ['SourceIdentity', session.sourceIdentity],
      ];
    } catch (e) {
      if (e instanceof StsError && e.code === 'AccessDenied')
        throw stsErrors.accessDenied('Not authorized to perform sts:AssumeRoleWithWebIdentity');
      throw e;
    }
  },
};
