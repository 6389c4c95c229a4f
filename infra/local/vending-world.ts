import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from './secrets-manager/index.ts';
import type { LocalOidcProvider, LocalPrincipal, LocalSamlProvider } from './sts-emulator/index.ts';

/** roles.yaml entries for the vending paths beyond AssumeRole (see the comments in roles.yaml). */
export interface VendingWorld {
  readonly oidcProviders?: readonly LocalOidcProvider[];
  readonly samlProviders?: readonly { readonly arn: string; readonly certificateFiles: readonly string[] }[];
  readonly federationUsers?: readonly (LocalPrincipal & { readonly secretName: string })[];
}

const PLACEHOLDER = /^\{\{(issuer|audience):([a-z0-9-]+)\}\}$/;
const BROKER_PLACEHOLDER = '{{broker}}';

/**
 * OIDC providers with `{{broker}}` (the local broker's issuer URL) and `{{issuer:<id>}}` / `{{audience:<id>}}` filled
 * in from the issuers the broker trusts. A provider whose issuer is not trusted in this run (the tests' issuer under
 * `npm start`) is left out, as an IAM provider for an IdP that does not exist would be.
 */
export function resolveOidcProviders(
  world: VendingWorld,
  issuers: readonly Record<string, unknown>[],
  brokerIssuer: string,
): LocalOidcProvider[] {
  const byId = new Map(issuers.map((i) => [String(i['id']), i]));
  const resolve = (value: string): string | undefined => {
    if (value === BROKER_PLACEHOLDER) return brokerIssuer;
    const match = PLACEHOLDER.exec(value);
    if (match === null) return value;
    const issuer = byId.get(match[2] ?? '');
    if (issuer === undefined) return undefined;
    if (match[1] === 'issuer') return String(issuer['issuer']);
    return String((issuer['audiences'] as unknown[] | undefined)?.[0] ?? '');
  };
  return (world.oidcProviders ?? []).flatMap((provider) => {
    const issuer = resolve(provider.issuer);
    const clientIds = provider.clientIds.map(resolve);
    if (issuer === undefined || clientIds.some((id) => id === undefined)) return [];
    const trusted = [...byId.values()].find((i) => i['issuer'] === issuer);
    const jwksUri = provider.jwksUri ?? (typeof trusted?.['jwksUri'] === 'string' ? trusted['jwksUri'] : undefined);
    return [{ arn: provider.arn, issuer, clientIds: clientIds as string[], ...(jwksUri === undefined ? {} : { jwksUri }) }];
  });
}

export function samlProvidersOf(world: VendingWorld, root: string): LocalSamlProvider[] {
  return (world.samlProviders ?? []).map((p) => ({
    arn: p.arn,
    certificates: p.certificateFiles.map((f) => readFileSync(join(root, f), 'utf8')),
  }));
}

/** The federation IAM users as principals the STS emulator accepts GetFederationToken signatures from. */
export function federationPrincipals(world: VendingWorld): LocalPrincipal[] {
  return (world.federationUsers ?? []).map(({ secretName: _secretName, ...principal }) => principal);
}

/**
 * A local Secrets Manager holding each federation user's keys as `{"AccessKeyId","SecretAccessKey"}`, readable by the
 * broker only (as its IAM statement allows in AWS), and the broker environment that points at it.
 */
export async function startFederationSecrets(
  world: VendingWorld,
  accountId: string,
  broker: LocalPrincipal,
): Promise<{ secrets: SecretsManagerEmulator; env: Record<string, string> }> {
  const users = world.federationUsers ?? [];
  const secrets = await startSecretsManagerEmulator({
    accountId,
    readers: [{ ...broker, readableSecrets: users.map((u) => u.secretName) }],
    secrets: users.map((u) => ({
      name: u.secretName,
      secretString: JSON.stringify({ AccessKeyId: u.accessKeyId, SecretAccessKey: u.secretAccessKey }),
    })),
  });
  return {
    secrets,
    env: {
      KEYVEND_SECRETS_MANAGER_ENDPOINT: secrets.url,
      KEYVEND_FEDERATION_USER_SECRETS: users.map((u) => u.secretName).join(','),
    },
  };
}
