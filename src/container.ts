import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAuditLog } from './adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbExportHead } from './adapters/dynamodb/dynamodb-export-head.ts';
import { auditChangesOf, type StreamRecord } from './adapters/dynamodb/stream-changes.ts';
import { S3AuditArchive } from './adapters/s3/s3-audit-archive.ts';
import { makeExportAudit } from './app/export-audit.ts';
import { DynamoDbEntitlementStore } from './adapters/dynamodb/dynamodb-entitlement-store.ts';
import { DynamoDbReplayCache } from './adapters/dynamodb/dynamodb-replay-cache.ts';
import { DynamoDbAuditReader } from './adapters/dynamodb/dynamodb-audit-reader.ts';
import { DynamoDbRevocationStore } from './adapters/dynamodb/dynamodb-revocation-store.ts';
import { IamLiveSessionRevoker } from './adapters/iam/iam-live-session-revoker.ts';
import { makeRevocations } from './app/revocations.ts';
import { InMemoryCredentialCache } from './adapters/memory/in-memory-credential-cache.ts';
import { makeRevocationsPortal } from './app/revocations-portal.ts';
import { KmsSigningKeys } from './adapters/kms/kms-signing-keys.ts';
import { PowertoolsDecisionLog } from './adapters/logging/powertools-decision-log.ts';
import { idTokenVerifier, JoseIdentityVerifier } from './adapters/oidc/jose-identity-verifier.ts';
import { lazyNodeSamlVerifier } from './adapters/saml/lazy-saml-verifier.ts';
import { RedirectSamlAuthnRequests } from './adapters/saml/redirect-authn-requests.ts';
import { SecretsManagerFederationKeys } from './adapters/secrets-manager/secrets-manager-federation-keys.ts';
import { StsCredentialIssuer } from './adapters/sts/sts-credential-issuer.ts';
import { makeIssueCredentials } from './app/issue-credentials.ts';
import { makeListEntitlements } from './app/list-entitlements.ts';
import { type KnownIdentityProvider, makeExplain, makeExplainAs } from './app/explain.ts';
import { makeMyGrants, makeQueryAudit, makeQueryAuditAs } from './app/audit-queries.ts';
import { type AuditExportConfig, type Config, ConfigError, loadAuditExportConfig, loadConfig, roleArnMatcher } from './config.ts';
import { FederationConsoleSignin } from './adapters/signin/federation-console-signin.ts';
import { makeIssueConsoleUrl } from './app/issue-console-url.ts';
import { OidcPortalLogin } from './adapters/oidc/oidc-portal-login.ts';
import { SecretsManagerPortalSecrets, StaticPortalSecrets } from './adapters/secrets/portal-secrets.ts';
import { makePortal, type PortalDeps } from './app/portal.ts';
import { federationEndpointFor } from './domain/console-signin.ts';
import type { Clock, LongTermKeys } from './ports/index.ts';
import { withinDeadline } from './adapters/deadline/request-deadline.ts';
import { ATTEMPTS, DYNAMODB_ATTEMPTS } from './adapters/shared/client-attempts.ts';
import { InMemoryRateLimiter } from './adapters/memory/in-memory-rate-limiter.ts';

/**
 * Composition: configuration and SDK clients are created once per container (at the first request's
 * cold start) and shared by every later invocation. Each function asks only for what it uses, so the
 * entitlements function's bundle carries no STS client.
 */
const once = <T>(create: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= create());
};

export const config = /* @__PURE__ */ once((): Config => {
  const loaded = loadConfig();
  // Once per cold start: each is an opt-out someone chose, to be seen in the logs, not on every request.
  for (const warning of loaded.warnings) logger().warn('keyvend.config.risky_setting', { detail: warning });
  return loaded;
});
export const logger = /* @__PURE__ */ once(() => new Logger({ serviceName: 'keyvend' }));
/** Embedded-metric-format counters of decisions and alarms (docs/operations.md, "Metrics and alarms"). */
export const metrics = /* @__PURE__ */ once(() => new Metrics({ namespace: 'Keyvend', serviceName: 'keyvend' }));
const decisionLog = /* @__PURE__ */ once(() => new PowertoolsDecisionLog(logger(), metrics()));
const systemClock: Clock = { now: () => new Date() };

/** What every SDK client of the broker is built with: the region, the per-attempt settings, and the endpoint if one is configured. */
const clientSettings = (endpoint: string | undefined, attempts: typeof ATTEMPTS | typeof DYNAMODB_ATTEMPTS = ATTEMPTS) => ({
  region: config().region,
  maxAttempts: attempts.maxAttempts,
  requestHandler: attempts.requestHandler,
  ...(endpoint === undefined ? {} : { endpoint }),
});

/** A use case (or any entry of a function) bounded by the request's deadline from the moment it is called. */
const bounded = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => withinDeadline(config().requestBudget, fn);

/** Each method of a use-case object (the portal's), bounded as `bounded` does. */
const boundedEach = <T extends object>(methods: T): T =>
  Object.fromEntries(
    Object.entries(methods).map(([name, value]) => [
      name,
      typeof value === 'function' ? bounded((...args: unknown[]) => value.apply(methods, args)) : value,
    ]),
  ) as T;

const documentClient = /* @__PURE__ */ once(() => {
  const client = new DynamoDBClient(clientSettings(config().dynamoDbEndpoint, DYNAMODB_ATTEMPTS));
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
});

const stsClient = /* @__PURE__ */ once(() => new STSClient(clientSettings(config().stsEndpoint)));

/**
 * AssumeRoleWithWebIdentity and AssumeRoleWithSAML are unsigned in the SDK (no-auth scheme). This client
 * has a credential provider that always fails, so were the SDK ever to try signing, the call would fail
 * rather than fall back to the broker's own role.
 */
const unsignedStsClient = /* @__PURE__ */ once(
  () =>
    new STSClient({
      ...clientSettings(config().stsEndpoint),
      credentials: () => Promise.reject(new Error('the unsigned STS client has no credentials')),
    }),
);

/** The broker's signing keys in KMS, shared by minting (credentials, console) and the JWKS (issuer). */
const signingKeys = /* @__PURE__ */ once(() => {
  const c = config();
  const issuer = c.brokerIssuer;
  if (issuer === undefined) return undefined;
  const client = new KMSClient(clientSettings(c.kmsEndpoint));
  return {
    settings: issuer.token,
    keys: new KmsSigningKeys(client, { signingKeyId: issuer.signingKeyId, publishedKeyIds: issuer.publishedKeyIds }),
  };
});

/**
 * Called at init by the functions whose every grant signs (credentials, console; not the portal, which mints only
 * when its console button is pressed): asks KMS for the signing key's public half (its kid and algorithm) under a
 * request's deadline, without waiting, so the first request's Sign does not wait for it (ADR 0017). A failure is
 * forgotten: the first signature asks again, and fails closed as before.
 */
export const warmSigningKey = /* @__PURE__ */ once(() => {
  const signing = signingKeys();
  // warm() never rejects; the deadline's own refusal is dropped too, so nothing at init can become an unhandled rejection.
  if (signing !== undefined) void bounded(() => signing.keys.warm())().catch(() => undefined);
});

const federationKeys = /* @__PURE__ */ once(() => {
  const c = config();
  return new SecretsManagerFederationKeys(new SecretsManagerClient(clientSettings(c.secretsManagerEndpoint)), {
    cacheSeconds: c.federationKeysCacheSeconds,
    allowedSecretIds: c.federationUserSecrets,
  });
});

/** GetFederationToken must be signed by the IAM user itself, so each user's keys get their own client. */
const federationStsClient = (keys: LongTermKeys): STSClient =>
  new STSClient({
    ...clientSettings(config().stsEndpoint),
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey.reveal() },
  });

const verifier = /* @__PURE__ */ once(() => new JoseIdentityVerifier({ issuers: config().issuers, allowLoopbackHttp: config().localMode }));
const samlConfigured = (c: Config): boolean => c.saml.idps.length > 0 && c.saml.acsUrl !== undefined && c.saml.replayTable !== undefined;
const samlVerifier = /* @__PURE__ */ once(() => {
  const { saml } = config();
  if (!samlConfigured(config()) || saml.replayTable === undefined) return undefined;
  // Loaded on the first SAML response: a bearer-token request never loads the XML stack (docs/bundle-size.md).
  return lazyNodeSamlVerifier({ idps: saml.idps, replayCache: new DynamoDbReplayCache(documentClient(), saml.replayTable) });
});
const entitlementStore = /* @__PURE__ */ once(
  () =>
    new DynamoDbEntitlementStore(documentClient(), config().entitlementsTable, {
      grantedGroupsCacheSeconds: config().grantedGroupsCacheSeconds,
      clock: systemClock,
    }),
);

/** One set of buckets per container, shared by every minting use case the function has (ADR 0015). */
const rateLimiter = /* @__PURE__ */ once(() => new InMemoryRateLimiter(config().rateLimit, systemClock));

/** One per container, for the credentials function only (console sign-in never reuses a session). */
const credentialCache = /* @__PURE__ */ once(() => {
  const settings = config().credentialCache;
  return settings.enabled ? new InMemoryCredentialCache(settings) : undefined;
});

const makeIssuer = (saml: ReturnType<typeof samlVerifier>, cache?: InMemoryCredentialCache) =>
  makeIssueCredentials({
    verifier: verifier(),
    samlVerifier: saml,
    samlAcsUrl: config().saml.acsUrl,
    entitlements: entitlementStore(),
    credentials: new StsCredentialIssuer(stsClient(), {
      unsignedClient: unsignedStsClient(),
      // Created on the first federation-token grant, not at cold start: most deployments never serve one.
      federation: { keys: { keysFor: (secretId) => federationKeys().keysFor(secretId) }, clientFor: federationStsClient },
    }),
    brokerIssuer: brokerIssuer(),
    audit: new DynamoDbAuditLog(documentClient(), config().auditTable, config().auditRetentionDays),
    log: decisionLog(),
    clock: systemClock,
    rateLimiter: rateLimiter(),
    cache,
    settings: { roleChaining: config().roleChaining, isAllowedRole: roleArnMatcher(config().allowedRoleArnPatterns) },
  });

const brokerIssuer = () => {
  const signing = signingKeys();
  return signing === undefined ? undefined : { settings: signing.settings, signer: signing.keys };
};

/** The issuer's public side: discovery and JWKS. Without KEYVEND_TOKEN_ISSUER the function refuses to start. */
export const issuerDocuments = /* @__PURE__ */ once(() => {
  const signing = signingKeys();
  if (signing === undefined) throw new ConfigError('the issuer function needs KEYVEND_TOKEN_ISSUER and KEYVEND_SIGNING_KEY_ID');
  const keys = signing.keys;
  return { issuer: signing.settings.issuer, keys: { publicKeys: bounded(() => keys.publicKeys()) } };
});

export const issueCredentials = /* @__PURE__ */ once(() => bounded(makeIssuer(samlVerifier(), credentialCache())));
/** Console sign-in and the portal take bearer tokens only, so their bundles carry no SAML verifier (docs/bundle-size.md). */
const issueBearerCredentials = /* @__PURE__ */ once(() => makeIssuer(undefined));

export const listEntitlements = /* @__PURE__ */ once(() =>
  bounded(makeListEntitlements({ verifier: verifier(), entitlements: entitlementStore() })),
);

export const issueConsoleUrl = /* @__PURE__ */ once(() => {
  const c = config();
  if (c.console.issuerUrl === undefined) {
    throw new ConfigError('console sign-in needs KEYVEND_CONSOLE_ISSUER_URL or KEYVEND_PORTAL_URL (the Issuer of sign-in URLs)');
  }
  return bounded(
    makeIssueConsoleUrl({
      issueCredentials: issueBearerCredentials(),
      signin: new FederationConsoleSignin(),
      clock: systemClock,
      settings: {
        issuerUrl: c.console.issuerUrl,
        destinationRules: c.console.destinationRules,
        federationEndpointFor: (partition) => c.console.federationEndpoint ?? federationEndpointFor(partition),
        roleChaining: c.roleChaining,
      },
    }),
  );
});

/**
 * The portal's pages, OIDC sign-in and console button, built without the SAML verifier so that its bundle
 * carries no XML stack; SAML sign-in (`GET /portal/saml/login`, `POST /portal/saml/acs`) is its own function, built from `samlPortal` (docs/bundle-size.md).
 */
export const portal = /* @__PURE__ */ once(() => makePortalFunction(undefined, portalSee()));
/** Without SAML configuration it still serves, refusing every assertion with `saml_not_configured` (audited). */
export const samlPortal = /* @__PURE__ */ once(() => makePortalFunction(samlVerifier(), undefined));

/** The portal's explain and admin pages; the SAML sign-in function serves neither, so its bundle carries neither. */
const portalSee = () => {
  const c = config();
  return { explainAs: makeExplainAs(explainDeps(c, true)), queryAuditAs: makeQueryAuditAs(auditQueriesDeps(c)), admins: c.admins };
};

const makePortalFunction = (saml: ReturnType<typeof samlVerifier>, see: PortalDeps['see']) => {
  const c = config();
  const settings = c.portal;
  if (settings === undefined) throw new ConfigError('the portal needs KEYVEND_PORTAL_URL and KEYVEND_PORTAL_CLIENT_ID');
  const issuer = c.issuers.find((i) => i.id === settings.issuerId);
  if (issuer === undefined) throw new ConfigError('KEYVEND_PORTAL_ISSUER_ID must name a configured issuer');
  const secrets =
    settings.secretId !== undefined
      ? new SecretsManagerPortalSecrets(new SecretsManagerClient(clientSettings(c.secretsManagerEndpoint)), settings.secretId)
      : new StaticPortalSecrets(settings.clientSecret ?? '', settings.sessionKey ?? '');
  const federationOrigins =
    c.console.federationEndpoint !== undefined
      ? [new URL(c.console.federationEndpoint).origin]
      : (['aws', 'aws-us-gov', 'aws-cn'] as const).map((p) => new URL(federationEndpointFor(p)).origin);
  return {
    publicUrl: settings.publicUrl,
    issuerName: issuer.displayName ?? new URL(issuer.issuer).host,
    /** One "Sign in with SAML" link per SAML IdP with an SSO URL: the portal's own SP-initiated route. */
    samlSignIns: !samlConfigured(c)
      ? []
      : c.saml.idps.flatMap((idp) =>
          idp.ssoUrl === undefined
            ? []
            : [{ id: idp.id, label: idp.displayName ?? `SAML (${idp.id})`, url: `/portal/saml/login?idp=${encodeURIComponent(idp.id)}` }],
        ),
    http: { secure: new URL(settings.publicUrl).protocol === 'https:', formTargets: federationOrigins },
    sessionSeconds: settings.sessionSeconds,
    app: boundedEach(
      makePortal({
        login: new OidcPortalLogin({
          issuer,
          clientId: settings.clientId,
          redirectUri: `${settings.publicUrl}/portal/callback`,
          secrets,
          allowLoopbackHttp: c.localMode,
          idTokens: idTokenVerifier(issuer, settings.clientId, c.localMode),
        }),
        secrets,
        entitlements: entitlementStore(),
        issueConsoleUrl: issueConsoleUrl(),
        audit: new DynamoDbAuditLog(documentClient(), c.auditTable, c.auditRetentionDays),
        log: decisionLog(),
        clock: systemClock,
        settings: { sessionSeconds: settings.sessionSeconds },
        see,
        saml:
          saml === undefined || c.saml.audience === undefined
            ? undefined
            : {
                verifier: saml,
                acsUrl: `${settings.publicUrl}/portal/saml/acs`,
                requests: new RedirectSamlAuthnRequests({
                  spEntityId: c.saml.audience,
                  acsUrl: `${settings.publicUrl}/portal/saml/acs`,
                  endpoints: c.saml.idps.flatMap((idp) =>
                    idp.ssoUrl === undefined
                      ? []
                      : [
                          {
                            idpId: idp.id,
                            ssoUrl: idp.ssoUrl,
                            nameIdFormat:
                              idp.subjectAttribute === undefined && idp.nameIdFormats.length === 1 ? idp.nameIdFormats[0] : undefined,
                          },
                        ],
                  ),
                }),
              },
      }),
    ),
  };
};

/** Every identity provider by its configured id, for an admin who explains for someone (derives their userKey). */
const identityProviders = (c: Config): KnownIdentityProvider[] => [
  ...c.issuers.map((i) => ({ id: i.id, issuer: i.issuer, idpType: 'oidc' as const })),
  ...c.saml.idps.map((idp) => ({ id: idp.id, issuer: idp.entityId, idpType: 'saml' as const })),
];

const explainDeps = (c: Config, audited: boolean) => ({
  entitlements: entitlementStore(),
  settings: {
    roleChaining: c.roleChaining,
    isAllowedRole: roleArnMatcher(c.allowedRoleArnPatterns),
    brokerIssuerConfigured: c.brokerIssuer !== undefined,
  },
  admins: c.admins,
  identityProviders: identityProviders(c),
  ...(audited
    ? {
        audit: {
          log: new DynamoDbAuditLog(documentClient(), c.auditTable, c.auditRetentionDays),
          decisions: new PowertoolsDecisionLog(logger()),
          clock: systemClock,
        },
      }
    : {}),
});

const makeExplainFor = (audited: boolean) => bounded(makeExplain({ verifier: verifier(), ...explainDeps(config(), audited) }));

/** GET /v1/explain/{entitlement}: the caller's own explanation, read-only (the entitlements function). */
export const explainOwn = /* @__PURE__ */ once(() => makeExplainFor(false));
/** POST /v1/explain: also an admin's explanation for anyone, audited (the audit function, which may write the audit table). */
export const explainAudited = /* @__PURE__ */ once(() => makeExplainFor(true));

const auditReader = /* @__PURE__ */ once(() => new DynamoDbAuditReader(documentClient(), config().auditTable));

const auditQueriesDeps = (c: Config) => ({
  reader: auditReader(),
  audit: new DynamoDbAuditLog(documentClient(), c.auditTable, c.auditRetentionDays),
  decisions: new PowertoolsDecisionLog(logger()),
  clock: systemClock,
  admins: c.admins,
  identityProviders: identityProviders(c),
});

/** GET /v1/admin/audit: an admin's query of the audit trail, itself audited. */
export const queryAudit = /* @__PURE__ */ once(() => bounded(makeQueryAudit({ verifier: verifier(), ...auditQueriesDeps(config()) })));

/** GET /v1/me/grants: the caller's own grants whose sessions are still alive. */
export const myGrants = /* @__PURE__ */ once(() =>
  bounded(makeMyGrants({ verifier: verifier(), reader: auditReader(), clock: systemClock })),
);

/**
 * The admin revocation routes: the entitlements table (revocations live beside the grants), one audit read by key,
 * and each member account's revoker role (KEYVEND_REVOKER_ROLE_ARNS) for the live-session policy.
 */
export const revocations = /* @__PURE__ */ once(() => {
  const c = config();
  const admin = makeRevocations({
    verifier: verifier(),
    admins: c.admins,
    issuerNames: new Map([
      ...c.issuers.map((i) => [i.id, i.issuer] as const),
      ...c.saml.idps.map((idp) => [idp.id, idp.entityId] as const),
    ]),
    revocations: new DynamoDbRevocationStore(documentClient(), c.entitlementsTable),
    auditReader: auditReader(),
    liveSessions: new IamLiveSessionRevoker(stsClient(), {
      revokerRoleArns: c.revokerRoleArns,
      inFlightSeconds: c.functionTimeoutSeconds,
      iamFor: (credentials) => new IAMClient({ ...clientSettings(c.iamEndpoint), credentials }),
    }),
    audit: new DynamoDbAuditLog(documentClient(), c.auditTable, c.auditRetentionDays),
    log: new PowertoolsDecisionLog(logger()),
    clock: systemClock,
    inFlightSeconds: c.functionTimeoutSeconds,
  });
  return boundedEach(admin);
});
/**
 * The audit export (function auditExport): the audit table's stream, batch by batch, into the hash-chained
 * archive. Its own configuration, so it needs no issuer or key setting. The local stack composes the same
 * exporter with its own endpoints (infra/local/stack.ts).
 */
export function makeAuditStreamExporter(c: AuditExportConfig) {
  const settings = (endpoint: string | undefined) => ({
    region: c.region,
    maxAttempts: ATTEMPTS.maxAttempts,
    requestHandler: ATTEMPTS.requestHandler,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(c.localMode ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(settings(c.dynamoDbEndpoint)));
  // Path-style addressing only against the local S3 emulator, whose endpoint is an IP address.
  const s3 = new S3Client({ ...settings(c.s3Endpoint), ...(c.s3Endpoint === undefined ? {} : { forcePathStyle: true }) });
  const exportAudit = makeExportAudit({
    archive: new S3AuditArchive(s3, c.archiveBucket, c.archiveRetentionDays),
    head: new DynamoDbExportHead(dynamo, c.exportHeadTable),
    clock: systemClock,
  });
  return {
    exportBatch: (records: readonly StreamRecord[]) => exportAudit(auditChangesOf(records)),
    close: () => {
      dynamo.destroy();
      s3.destroy();
    },
  };
}

export const exportAuditStream = /* @__PURE__ */ once(() => makeAuditStreamExporter(loadAuditExportConfig()).exportBatch);

/**
 * The portal's admin revocations page, served by the revocations function on the portal's session cookie (so the
 * portal function needs no revocation rights): the session key only, from the portal's secret. Undefined when the
 * portal is not configured.
 */
export const revocationsPortal = /* @__PURE__ */ once(() => {
  const c = config();
  const settings = c.portal;
  if (settings === undefined) return undefined;
  const secrets =
    settings.secretId !== undefined
      ? new SecretsManagerPortalSecrets(new SecretsManagerClient(clientSettings(c.secretsManagerEndpoint)), settings.secretId)
      : new StaticPortalSecrets(settings.clientSecret ?? '', settings.sessionKey ?? '');
  return {
    http: { secure: new URL(settings.publicUrl).protocol === 'https:', formTargets: [] },
    app: boundedEach(makeRevocationsPortal({ revocations: revocations(), secrets, clock: systemClock })),
  };
});
