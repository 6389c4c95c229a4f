import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAuditLog } from './adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbEntitlementStore } from './adapters/dynamodb/dynamodb-entitlement-store.ts';
import { DynamoDbReplayCache } from './adapters/dynamodb/dynamodb-replay-cache.ts';
import { PowertoolsDecisionLog } from './adapters/logging/powertools-decision-log.ts';
import { JoseIdentityVerifier } from './adapters/oidc/jose-identity-verifier.ts';
import { NodeSamlVerifier } from './adapters/saml/node-saml-verifier.ts';
import { StsCredentialIssuer } from './adapters/sts/sts-credential-issuer.ts';
import { makeIssueCredentials } from './app/issue-credentials.ts';
import { makeListEntitlements } from './app/list-entitlements.ts';
import { type Config, loadConfig, roleArnMatcher } from './config.ts';
import type { Clock } from './ports/index.ts';

/**
 * Composition: configuration and SDK clients are created once per container (at the first request's
 * cold start) and shared by every later invocation. Each function asks only for what it uses, so the
 * entitlements function's bundle carries no STS client.
 */
const once = <T>(create: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= create());
};

export const config = /* @__PURE__ */ once((): Config => loadConfig());
export const logger = /* @__PURE__ */ once(() => new Logger({ serviceName: 'keyvend' }));
const systemClock: Clock = { now: () => new Date() };

// Timeouts well inside API Gateway's 29 s: a hung dependency becomes a 503, not a gateway timeout.
const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 };

const documentClient = /* @__PURE__ */ once(() => {
  const c = config();
  const client = new DynamoDBClient({
    region: c.region,
    maxAttempts: 3,
    requestHandler,
    ...(c.dynamoDbEndpoint === undefined ? {} : { endpoint: c.dynamoDbEndpoint }),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
});

const stsClient = /* @__PURE__ */ once(() => {
  const c = config();
  return new STSClient({
    region: c.region,
    maxAttempts: 3,
    requestHandler,
    ...(c.stsEndpoint === undefined ? {} : { endpoint: c.stsEndpoint }),
  });
});

const verifier = /* @__PURE__ */ once(() => new JoseIdentityVerifier({ issuers: config().issuers, allowLoopbackHttp: config().localMode }));
const samlVerifier = /* @__PURE__ */ once(() => {
  const { saml } = config();
  if (saml.idps.length === 0 || saml.acsUrl === undefined || saml.replayTable === undefined) return undefined;
  return new NodeSamlVerifier({ idps: saml.idps, acsUrl: saml.acsUrl, replayCache: new DynamoDbReplayCache(documentClient(), saml.replayTable) });
});
const entitlementStore = /* @__PURE__ */ once(() => new DynamoDbEntitlementStore(documentClient(), config().entitlementsTable));

export const issueCredentials = /* @__PURE__ */ once(() =>
  makeIssueCredentials({
    verifier: verifier(),
    samlVerifier: samlVerifier(),
    entitlements: entitlementStore(),
    credentials: new StsCredentialIssuer(stsClient()),
    audit: new DynamoDbAuditLog(documentClient(), config().auditTable, config().auditRetentionDays),
    log: new PowertoolsDecisionLog(logger()),
    clock: systemClock,
    settings: { roleChaining: config().roleChaining, isAllowedRole: roleArnMatcher(config().allowedRoleArnPatterns) },
  }),
);

export const listEntitlements = /* @__PURE__ */ once(() => makeListEntitlements({ verifier: verifier(), entitlements: entitlementStore() }));
