import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile } from '../../src/tools/entitlements-file.ts';
import { ENTITLEMENTS_FILE_HINT, InputFileError, readInputFile } from '../../src/tools/input-file.ts';
import { removeLocalStackState, writeLocalStackState } from '../../src/tools/local-stack-state.ts';
import { randomBytes } from 'node:crypto';
import { CLIENT_IDS, DEV_PORTAL_CLIENT_SECRET, type DevIdp, startDevIdp } from './dev-idp/index.ts';
import {
  createTables,
  freePort,
  LOCAL_AWS_CREDENTIALS,
  type LocalDynamoDb,
  startLocalDynamoDb,
  tableDefinitionsFromServerlessYml,
} from './dynamodb.ts';
import { type LocalManagedPolicy, type LocalPrincipal, type LocalRole, type StsEmulator, startStsEmulator } from './sts-emulator/index.ts';
import type { SecretsManagerEmulator } from './secrets-manager/index.ts';
import { type KmsEmulator, startKmsEmulator } from './kms/index.ts';
import { type S3Emulator, startS3Emulator } from './s3/index.ts';
import { type LocalStreamExport, startLocalStreamExport } from './audit-export.ts';
import { makeAuditStreamExporter } from '../../src/container.ts';
import { loadAuditExportConfig } from '../../src/config.ts';
import { federationPrincipals, resolveOidcProviders, samlProvidersOf, startFederationSecrets, type VendingWorld } from './vending-world.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_ENTITLEMENTS_FILE = join(ROOT, 'infra/local/entitlements.yaml');
export const DEFAULT_ROLES_FILE = join(ROOT, 'infra/local/roles.yaml');
export const LOCAL_TABLES = {
  entitlements: 'keyvend-local-entitlements',
  audit: 'keyvend-local-audit',
  samlReplay: 'keyvend-local-saml-replay',
  auditExportHead: 'keyvend-local-audit-export-head',
} as const;
/** The local audit archive bucket (S3 emulator, Object Lock with this default retention). */
export const LOCAL_AUDIT_BUCKET = 'keyvend-local-audit-archive';
const LOCAL_AUDIT_RETENTION_DAYS = 1;

export interface LocalStackOptions {
  /** Ports: 0 or undefined picks a free one, except where `npm start` fixes them for its instructions. */
  readonly httpPort?: number;
  readonly idpPort?: number;
  readonly stsPort?: number;
  readonly dynamoPort?: number;
  readonly entitlementsFile?: string;
  readonly rolesFile?: string;
  /** Issuer settings (KEYVEND_ISSUERS entries) to trust instead of the dev IdP. */
  readonly issuers?: readonly Record<string, unknown>[];
  /** Issuer settings to trust besides the dev IdP (tests add their own signing issuer this way). */
  readonly extraIssuers?: readonly Record<string, unknown>[];
  /** SAML IdPs to trust (KEYVEND_SAML_IDPS entries); the ACS URL is the broker's own /v1/credentials. */
  readonly samlIdps?: readonly Record<string, unknown>[];
  /** The broker's SP entity id (KEYVEND_SAML_AUDIENCE); defaults to `urn:keyvend:local`. */
  readonly samlAudience?: string;
  /** The broker's signing key (RS256 by default). */
  readonly signingKeySpec?: 'RSA_2048' | 'ECC_NIST_P256';
  readonly log?: (line: string) => void;
  /** Where the broker's own output (its decision log lines) goes; tests scan it for leaked secrets. */
  readonly brokerLogFile?: string;
  /**
   * Where to write the state file tools use to find this stack (`entitlements apply --local`); removed on close.
   * `npm start` writes `.local/stack.json`; tests write their own, so a developer's running stack keeps its file.
   */
  readonly stateFile?: string;
}

export interface RolesFile extends VendingWorld {
  readonly accountId: string;
  readonly principals: LocalPrincipal[];
  readonly roles: LocalRole[];
  readonly managedPolicies?: LocalManagedPolicy[];
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly idp: DevIdp | undefined;
  readonly sts: StsEmulator;
  /** Serves the federation IAM users' keys (GetSecretValue). */
  readonly secretsManager: SecretsManagerEmulator;
  /** Holds the broker's signing key (Sign, GetPublicKey). */
  readonly kms: KmsEmulator;
  readonly dynamo: LocalDynamoDb;
  readonly roles: RolesFile;
  /** The broker's environment, so a test can start a second broker with one thing changed. */
  readonly brokerEnv: Readonly<Record<string, string>>;
  readonly documentClient: DynamoDBDocumentClient;
  /**
   * The audit export (absent on dynalite, which has no streams): the local S3 with the Object-Locked archive bucket,
   * and the stream poller that runs the auditExport function's exporter; `drain()` waits until every change made so
   * far is exported.
   */
  readonly auditExport:
    | { readonly s3: S3Emulator; readonly bucket: string; readonly exportHeadTable: string; drain(): Promise<void> }
    | undefined;
  /**
   * Replaces the running broker with one whose environment differs by `changes` (a key set to undefined is
   * removed), on the same port, so its issuer URL stays the one the STS emulator trusts (key rotation tests).
   */
  restartBroker(changes: Readonly<Record<string, string | undefined>>): Promise<void>;
  close(): Promise<void>;
}

/** The roles of the roles file that version the revocation policy: the revoker role of each member account. */
export function revokerRolesOf(roles: RolesFile): string[] {
  return roles.roles.filter((r) => /:role\/keyvend-revoker$/.test(r.arn)).map((r) => r.arn);
}

export function readRolesFile(path: string): RolesFile {
  return parse(readInputFile(path, 'roles file', `The local roles are in ${DEFAULT_ROLES_FILE}; start from a copy of it.`)) as RolesFile;
}

export function devIssuerSettings(idp: DevIdp): Record<string, unknown> {
  return {
    id: 'dev',
    // The portal's button: "Sign in with the dev IdP".
    displayName: 'the dev IdP',
    issuer: idp.issuer,
    // Configured, as a deployment should: the broker fetches the keys without asking discovery first (ADR 0017).
    jwksUri: idp.jwksUri,
    audiences: [idp.apiAudience],
    // The dev IdP's clients that call the broker with access tokens (RFC 9068 client_id); the portal signs in with
    // ID tokens, which are checked against its own client id instead.
    authorizedParties: [CLIENT_IDS.cli, CLIENT_IDS.demoApp, CLIENT_IDS.workload],
    algorithms: ['RS256'],
    tokenType: 'access',
    groupsClaim: 'groups',
    maxTokenLifetimeSeconds: 3600,
  };
}

/**
 * The whole local stack: DynamoDB Local with the tables of serverless.yml and the seeded entitlements, the
 * STS emulator with the local roles, the dev OIDC provider, and the real handlers behind
 * serverless-offline. The broker gets only endpoints and settings through its environment, as in AWS.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };
  try {
    const rolesFile = options.rolesFile ?? DEFAULT_ROLES_FILE;
    const roles = readRolesFile(rolesFile);
    // The broker's port is known before the dev IdP starts: the portal's redirect URI is registered with it.
    const httpPort = options.httpPort || (await freePort());
    const portalUrl = `http://127.0.0.1:${httpPort}`;
    const [dynamo, idp] = await Promise.all([
      startLocalDynamoDb(options.dynamoPort === undefined ? {} : { port: options.dynamoPort }),
      options.issuers === undefined
        ? startDevIdp({ port: options.idpPort ?? 0, portalRedirectUris: [`${portalUrl}/portal/callback`] })
        : Promise.resolve(undefined),
    ]);
    closers.push(() => dynamo.close());
    if (idp !== undefined) closers.push(() => idp.close());
    const issuers = [...(options.issuers ?? (idp ? [devIssuerSettings(idp)] : [])), ...(options.extraIssuers ?? [])];
    const broker = roles.principals[0];
    if (broker === undefined) throw new Error(`${rolesFile} names no principal for the broker`);
    // The broker is the issuer of the tokens it mints: AWS (here the STS emulator) reads its discovery document.
    const brokerIssuer = portalUrl;
    const kms = await startKmsEmulator({
      accountId: roles.accountId,
      principals: [{ ...broker, usableKeys: ['*'] }],
      keys: [{ alias: 'alias/keyvend-local-signing', keySpec: options.signingKeySpec ?? 'RSA_2048' }],
    });
    closers.push(() => kms.close());
    // The identity providers' URLs are known only now, so the STS emulator starts after the dev IdP.
    const sts = await startStsEmulator({
      port: options.stsPort ?? 0,
      accountId: roles.accountId,
      principals: [...roles.principals, ...federationPrincipals(roles)],
      roles: roles.roles,
      oidcProviders: resolveOidcProviders(roles, issuers, brokerIssuer),
      samlProviders: samlProvidersOf(roles, ROOT),
      managedPolicies: roles.managedPolicies ?? [],
    });
    closers.push(() => sts.close());
    log(`DynamoDB (${dynamo.engine}) at ${dynamo.endpoint}; STS emulator at ${sts.url}${idp ? `; dev IdP at ${idp.issuer}` : ''}`);

    await createTables(dynamo.endpoint, tableDefinitionsFromServerlessYml(join(ROOT, 'serverless.yml'), LOCAL_TABLES));
    const documentClient = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    closers.push(async () => documentClient.destroy());
    const entitlementsFile = options.entitlementsFile ?? DEFAULT_ENTITLEMENTS_FILE;
    const check = checkEntitlementsFile(readInputFile(entitlementsFile, 'entitlements file', ENTITLEMENTS_FILE_HINT));
    if (!check.ok) throw new InputFileError(`${entitlementsFile} is invalid:\n${check.problems.map((p) => `  - ${p}`).join('\n')}`);
    await applyEntitlements(documentClient, LOCAL_TABLES.entitlements, check.entries, { prune: true });
    log(`seeded ${check.entries.length} entitlement(s) from ${entitlementsFile}`);

    const auditExport = dynamo.engine === 'dynamodb-local' ? await startAuditExport(dynamo.endpoint, closers, log) : undefined;

    const federation = await startFederationSecrets(roles, roles.accountId, broker);
    closers.push(() => federation.secrets.close());
    const brokerEnv: Record<string, string> = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: broker.accessKeyId,
      AWS_SECRET_ACCESS_KEY: broker.secretAccessKey,
      KEYVEND_LOCAL_MODE: 'true',
      KEYVEND_ISSUERS: JSON.stringify(issuers),
      KEYVEND_ALLOWED_ROLE_ARNS: `arn:aws:iam::${roles.accountId}:role/keyvend/*`,
      KEYVEND_TOKEN_ISSUER: brokerIssuer,
      KEYVEND_SIGNING_KEY_ID: kms.keys[0]?.arn ?? '',
      KEYVEND_KMS_ENDPOINT: kms.url,
      KEYVEND_ROLE_CHAINING: 'true',
      // Off here (on in a deployed stack, serverless.yml): each request of a demo or test shows its own fresh session;
      // test/e2e/credential-cache.test.ts runs a broker with it on (ADR 0013).
      KEYVEND_CREDENTIAL_CACHE: 'false',
      KEYVEND_STS_ENDPOINT: sts.url,
      // The revoker roles of the member accounts (here the one account), and the emulator's IAM actions.
      KEYVEND_REVOKER_ROLE_ARNS: revokerRolesOf(roles).join(','),
      KEYVEND_IAM_ENDPOINT: sts.url,
      KEYVEND_DYNAMODB_ENDPOINT: dynamo.endpoint,
      KEYVEND_ENTITLEMENTS_TABLE: LOCAL_TABLES.entitlements,
      KEYVEND_AUDIT_TABLE: LOCAL_TABLES.audit,
      KEYVEND_FEDERATION_ENDPOINT: `${sts.url}/federation`,
      KEYVEND_CONSOLE_ISSUER_URL: `${portalUrl}/portal`,
      // The test suites send one caller's requests back to back; the production default (60 a minute) is tried by
      // test/e2e/abuse-controls.test.ts on a broker of its own.
      KEYVEND_RATE_LIMIT: '6000',
      KEYVEND_RATE_LIMIT_BURST: '1000',
      // The tests change grants under a running broker and expect the very next request to see them, so the stack
      // asks for every group; test/e2e/granted-groups.test.ts and the bench run a broker with the list kept (ADR 0018).
      KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: '0',
      // The portal signs people in with the dev IdP; a session key is generated per start.
      ...(idp === undefined
        ? {}
        : {
            KEYVEND_PORTAL_URL: portalUrl,
            KEYVEND_PORTAL_ISSUER_ID: 'dev',
            // carol, the dev IdP's demo admin, is in this group.
            KEYVEND_ADMINS: JSON.stringify([{ issuer: 'dev', groups: ['keyvend-admins'] }]),
            KEYVEND_PORTAL_CLIENT_ID: CLIENT_IDS.portal,
            KEYVEND_PORTAL_CLIENT_SECRET: DEV_PORTAL_CLIENT_SECRET,
            KEYVEND_PORTAL_SESSION_KEY: randomBytes(32).toString('base64url'),
          }),
      ...federation.env,
      ...(options.samlIdps === undefined || options.samlIdps.length === 0
        ? {}
        : {
            KEYVEND_SAML_IDPS: JSON.stringify(options.samlIdps),
            KEYVEND_SAML_AUDIENCE: options.samlAudience ?? 'urn:keyvend:local',
            KEYVEND_SAML_ACS_URL: `http://127.0.0.1:${httpPort}/v1/credentials`,
            KEYVEND_SAML_REPLAY_TABLE: LOCAL_TABLES.samlReplay,
          }),
    };
    const brokerOptions = { httpPort, ...(options.brokerLogFile === undefined ? {} : { logFile: options.brokerLogFile }) };
    let brokerClosers: Array<() => Promise<void>> = [];
    const stopBroker = async () => {
      for (const closer of brokerClosers) await closer();
      brokerClosers = [];
    };
    closers.push(stopBroker);
    const apiUrl = await startBroker(brokerEnv, { ...brokerOptions, closers: brokerClosers });
    const restartBroker = async (changes: Readonly<Record<string, string | undefined>>) => {
      await stopBroker();
      const env: Record<string, string> = { ...brokerEnv };
      for (const [name, value] of Object.entries(changes)) {
        if (value === undefined) delete env[name];
        else env[name] = value;
      }
      await startBroker(env, { ...brokerOptions, closers: brokerClosers });
    };
    log(`broker at ${apiUrl}; issuer ${brokerIssuer}, signing key in the local KMS at ${kms.url}`);
    const stateFile = options.stateFile;
    if (stateFile !== undefined) {
      writeLocalStackState(stateFile, {
        pid: process.pid,
        apiUrl,
        dynamodbEndpoint: dynamo.endpoint,
        region: 'us-east-1',
        tables: { entitlements: LOCAL_TABLES.entitlements, audit: LOCAL_TABLES.audit },
        ...(auditExport === undefined
          ? {}
          : { audit: { s3Endpoint: auditExport.s3.url, bucket: auditExport.bucket, exportHeadTable: auditExport.exportHeadTable } }),
      });
      // First to run on close: tools stop finding the stack before it goes away.
      closers.push(async () => removeLocalStackState(stateFile));
    }
    return {
      apiUrl,
      idp,
      sts,
      secretsManager: federation.secrets,
      kms,
      dynamo,
      roles,
      brokerEnv,
      documentClient,
      auditExport,
      restartBroker,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The audit export as in AWS: a local S3 with the archive bucket (Object Lock, COMPLIANCE) kept in a temporary
 * folder, and the audit table's stream polled into the exporter the auditExport function runs, composed from the
 * same configuration loader with local endpoints.
 */
async function startAuditExport(
  dynamoEndpoint: string,
  closers: Array<() => Promise<void>>,
  log: (line: string) => void,
): Promise<{ s3: S3Emulator; bucket: string; exportHeadTable: string; drain(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'keyvend-local-s3-'));
  closers.push(async () => rmSync(root, { recursive: true, force: true }));
  const s3 = await startS3Emulator({
    root,
    buckets: [{ name: LOCAL_AUDIT_BUCKET, objectLock: { defaultRetentionDays: LOCAL_AUDIT_RETENTION_DAYS } }],
  });
  closers.push(() => s3.close());
  const exporter = makeAuditStreamExporter(
    loadAuditExportConfig({
      KEYVEND_LOCAL_MODE: 'true',
      KEYVEND_AUDIT_TABLE: LOCAL_TABLES.audit,
      KEYVEND_AUDIT_EXPORT_HEAD_TABLE: LOCAL_TABLES.auditExportHead,
      KEYVEND_AUDIT_ARCHIVE_BUCKET: LOCAL_AUDIT_BUCKET,
      KEYVEND_AUDIT_ARCHIVE_RETENTION_DAYS: String(LOCAL_AUDIT_RETENTION_DAYS),
      KEYVEND_DYNAMODB_ENDPOINT: dynamoEndpoint,
      KEYVEND_S3_ENDPOINT: s3.url,
    }),
  );
  closers.push(async () => exporter.close());
  const poller: LocalStreamExport = await startLocalStreamExport({
    endpoint: dynamoEndpoint,
    tableName: LOCAL_TABLES.audit,
    exportBatch: exporter.exportBatch,
    log,
    intervalMs: 500,
  });
  closers.push(() => poller.close());
  log(`audit export: the audit table's stream to s3://${LOCAL_AUDIT_BUCKET} on the local S3 at ${s3.url}`);
  return { s3, bucket: LOCAL_AUDIT_BUCKET, exportHeadTable: LOCAL_TABLES.auditExportHead, drain: () => poller.drain() };
}

/**
 * Starts the real handlers behind serverless-offline with the given environment and waits until the API
 * answers. Exported so tests can start a second broker against the same stack with one setting changed.
 */
export async function startBroker(
  env: Readonly<Record<string, string>>,
  options: { httpPort?: number; logFile?: string; closers?: Array<() => Promise<void>> } = {},
): Promise<string> {
  const httpPort = options.httpPort || (await freePort());
  const lambdaPort = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(ROOT, 'node_modules/osls/bin/serverless.js'),
      'offline',
      'start',
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '/tmp',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        KEYVEND_HTTP_PORT: String(httpPort),
        KEYVEND_LAMBDA_PORT: String(lambdaPort),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  if (options.logFile !== undefined) mkdirSync(dirname(options.logFile), { recursive: true });
  const logStream = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
    // stdout can still deliver after the process has exited; what arrives once the log is closed is dropped.
    if (logStream !== undefined && !logStream.writableEnded) logStream.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = () =>
    new Promise<void>((resolveStop) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        logStream?.end();
        return resolveStop();
      }
      // 'close', not 'exit': by then stdout and stderr have delivered everything, so the log ends complete.
      child.once('close', () => {
        logStream?.end();
        resolveStop();
      });
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  options.closers?.push(stop);
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serverless-offline exited (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${apiUrl}/v1/entitlements`, { signal: AbortSignal.timeout(20_000) });
      if (response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the broker did not answer at ${apiUrl} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return apiUrl;
}
