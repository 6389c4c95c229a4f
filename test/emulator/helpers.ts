/**
 * Shared fixture for the STS emulator tests: principals, roles, a controllable clock, SDK clients and a raw
 * SigV4 signer (@smithy/signature-v4, the SDK's own signer) for requests the SDK would not send.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { STSClient, STSServiceException, type STSClientConfig } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';
import { startStsEmulator, type LocalRole, type StsEmulator } from '../../infra/local/sts-emulator/index.ts';

export const ACCOUNT = '000000000000';
export const OTHER_ACCOUNT = '111111111111';

/** A role session configured as a principal: AssumeRole from it is role chaining. */
export const BROKER = {
  accessKeyId: 'AKIATESTBROKER000001',
  secretAccessKey: 'broker-secret-key-for-tests-only-000000',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/keyvend-broker/local`,
} as const;

/** An IAM user: AssumeRole from it is not chaining. */
export const USER = {
  accessKeyId: 'AKIATESTUSER00000001',
  secretAccessKey: 'user-secret-key-for-tests-only-00000000',
  arn: `arn:aws:iam::${ACCOUNT}:user/ci`,
} as const;

/** A user of another account that no trust policy names. */
export const OUTSIDER = {
  accessKeyId: 'AKIATESTOUTSIDER0001',
  secretAccessKey: 'outsider-secret-key-for-tests-only-0000',
  arn: `arn:aws:iam::${OTHER_ACCOUNT}:user/mallory`,
} as const;

export const ROLE = {
  /** Trusts the whole account for AssumeRole, TagSession and SetSourceIdentity; 12 h max; has a path. */
  target: `arn:aws:iam::${ACCOUNT}:role/keyvend/target-full`,
  /** Default 1 h max. */
  short: `arn:aws:iam::${ACCOUNT}:role/target-short`,
  /** Requires sts:ExternalId. */
  externalId: `arn:aws:iam::${ACCOUNT}:role/target-external-id`,
  /** Allows sts:AssumeRole only (no TagSession / SetSourceIdentity), for USER, the broker role and sessions of `target`. */
  noTags: `arn:aws:iam::${ACCOUNT}:role/target-no-tags`,
  /** Trusts the broker role only, by role ARN. */
  brokerOnly: `arn:aws:iam::${ACCOUNT}:role/target-broker-only`,
  /** Tag keys limited by ForAllValues:StringLike aws:TagKeys and aws:RequestTag/team. */
  tagRules: `arn:aws:iam::${ACCOUNT}:role/target-tag-rules`,
  /** Allow with an operator the emulator does not know. */
  unknownOperator: `arn:aws:iam::${ACCOUNT}:role/target-unknown-operator`,
  /** Allows the account but denies session names `blocked-*`. */
  withDeny: `arn:aws:iam::${ACCOUNT}:role/target-with-deny`,
  /** The broker's own role (so chained sessions can be checked against it). */
  broker: `arn:aws:iam::${ACCOUNT}:role/keyvend-broker`,
} as const;

export const EXTERNAL_ID = 'keyvend-external-id-1';

const accountRoot = { AWS: `arn:aws:iam::${ACCOUNT}:root` };
const allTagActions = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'];

function trust(...statements: object[]): object {
  return { Version: '2012-10-17', Statement: statements };
}

export const ROLES: LocalRole[] = [
  {
    arn: ROLE.target,
    maxSessionDuration: 43200,
    trustPolicy: trust({ Effect: 'Allow', Principal: accountRoot, Action: allTagActions }),
    permissionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] },
  },
  { arn: ROLE.short, trustPolicy: trust({ Effect: 'Allow', Principal: accountRoot, Action: allTagActions }) },
  {
    arn: ROLE.externalId,
    trustPolicy: trust({
      Effect: 'Allow',
      Principal: accountRoot,
      Action: allTagActions,
      Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
    }),
  },
  {
    arn: ROLE.noTags,
    trustPolicy: trust({ Effect: 'Allow', Principal: { AWS: [USER.arn, ROLE.broker, ROLE.target] }, Action: 'sts:AssumeRole' }),
  },
  { arn: ROLE.brokerOnly, trustPolicy: trust({ Effect: 'Allow', Principal: { AWS: ROLE.broker }, Action: allTagActions }) },
  {
    arn: ROLE.tagRules,
    trustPolicy: trust(
      { Effect: 'Allow', Principal: accountRoot, Action: 'sts:AssumeRole' },
      {
        Effect: 'Allow',
        Principal: accountRoot,
        Action: 'sts:TagSession',
        Condition: {
          'ForAllValues:StringLike': { 'aws:TagKeys': ['team', 'cost-*'] },
          StringEquals: { 'aws:RequestTag/team': 'blue' },
        },
      },
    ),
  },
  {
    arn: ROLE.unknownOperator,
    trustPolicy: trust({
      Effect: 'Allow',
      Principal: accountRoot,
      Action: 'sts:AssumeRole',
      Condition: { StringSortOf: { 'sts:ExternalId': EXTERNAL_ID } },
    }),
  },
  {
    arn: ROLE.withDeny,
    trustPolicy: trust(
      { Effect: 'Allow', Principal: accountRoot, Action: 'sts:AssumeRole' },
      { Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringLike: { 'sts:RoleSessionName': 'blocked-*' } } },
    ),
  },
  { arn: ROLE.broker, trustPolicy: trust({ Effect: 'Allow', Principal: accountRoot, Action: 'sts:AssumeRole' }) },
];

/** A clock the test moves by hand (starts at the real time so the SDK's own signing dates are current). */
export interface TestClock {
  now: () => Date;
  advance(ms: number): void;
  /** Back to the real time. */
  reset(): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
    reset: () => {
      t = Date.now();
    },
  };
}

export interface Fixture {
  emulator: StsEmulator;
  clock: TestClock;
  client(credentials: AwsCredentialIdentity, config?: Partial<STSClientConfig>): STSClient;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  const clock = testClock();
  const emulator = await startStsEmulator({
    principals: [BROKER, USER, OUTSIDER],
    roles: ROLES,
    now: clock.now,
  });
  const clients: STSClient[] = [];
  return {
    emulator,
    clock,
    client(credentials, config = {}) {
      const c = new STSClient({ endpoint: emulator.url, region: 'us-east-1', credentials, maxAttempts: 1, ...config });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await emulator.close();
    },
  };
}

export interface ThrownStsError {
  name: string;
  status: number | undefined;
  message: string;
}

/** Awaits a call that must fail with an SDK service error and returns what a caller would look at. */
export async function stsError(call: Promise<unknown>): Promise<ThrownStsError> {
  try {
    await call;
  } catch (e) {
    if (!(e instanceof STSServiceException)) throw e;
    return { name: e.name, status: e.$metadata.httpStatusCode, message: e.message };
  }
  throw new Error('expected the STS call to fail');
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(new Uint8Array(data));
}

/** node:crypto SHA-256 / HMAC-SHA-256 in the Checksum shape @smithy/signature-v4 wants. */
export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  private readonly secret: SourceData | undefined;

  constructor(secret?: SourceData) {
    this.secret = secret;
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

export function signer(credentials: AwsCredentialIdentity, region = 'us-east-1', service = 'sts'): SignatureV4 {
  return new SignatureV4({ service, region, credentials, sha256: NodeSha256 });
}

export interface RawResponse {
  status: number;
  text: string;
}

/**
 * Signs a form POST with the SDK's signer and sends it with fetch; `tamper` changes the body after signing.
 */
export async function signedPost(
  url: string,
  form: Record<string, string>,
  credentials: AwsCredentialIdentity,
  opts: { tamper?: (body: string) => string; signingDate?: Date; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const body = new URLSearchParams(form).toString();
  const signed = await signer(credentials).sign(
    {
      method: 'POST',
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      query: {},
      headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded', ...opts.headers },
      body,
    },
    opts.signingDate ? { signingDate: opts.signingDate } : {},
  );
  const res = await fetch(url, {
    method: 'POST',
    headers: signed.headers,
    body: opts.tamper ? opts.tamper(body) : body,
  });
  return { status: res.status, text: await res.text() };
}

/** A GET with the parameters in the query string, signed in the Authorization header. */
export async function signedGet(url: string, query: Record<string, string>, credentials: AwsCredentialIdentity): Promise<RawResponse> {
  const u = new URL(url);
  const signed = await signer(credentials).sign({
    method: 'GET',
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: '/',
    query,
    headers: { host: u.host },
  });
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const res = await fetch(`${url}/?${qs}`, { headers: signed.headers });
  return { status: res.status, text: await res.text() };
}

/** A presigned GET URL (query-string SigV4), as EKS-style GetCallerIdentity tokens use. */
export async function presignedUrl(
  url: string,
  query: Record<string, string>,
  credentials: AwsCredentialIdentity,
  expiresIn = 60,
): Promise<string> {
  const u = new URL(url);
  const signed = await signer(credentials).presign(
    { method: 'GET', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/', query, headers: { host: u.host } },
    { expiresIn },
  );
  const qs = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${url}/?${qs}`;
}

/** Extracts `<Code>` from an STS XML error body. */
export function xmlCode(text: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
}

export const SIMPLE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::keyvend-test/*' }],
});
