import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, type AssumeRoleCommandInput, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { grantLookupKeys } from '../src/adapters/dynamodb/keys.ts';
import { KmsSigningKeys } from '../src/adapters/kms/kms-signing-keys.ts';
import { ATTEMPTS, DYNAMODB_ATTEMPTS } from '../src/adapters/shared/client-attempts.ts';
import { emulatorSession, grantTokenClaims } from './grant-session.ts';
import { httpApiEvent, lambdaContext } from './lambda-event.ts';
import { RESULT_MARKER, WARM_OPERATIONS, type WarmOperation, type WarmPlan, type WarmResult } from './protocol.ts';

/**
 * Warm latency of POST /v1/credentials through the bundled handler, and in the same process, interleaved
 * call by call so that machine load falls on both alike, the calls no implementation of the path can avoid:
 * one JWT verification (keys cached), the entitlement read, on the keyvend-issuer path one KMS Sign of a
 * token of the broker's shape and AssumeRoleWithWebIdentity with it, on the assume-role path AssumeRole, and
 * one audit write, each with the very parameters the broker used (read back from its audit record and from
 * the STS emulator).
 */
const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as WarmPlan;
type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
/** One HTTP exchange: from the request's creation to the end of its response (hrtime). */
interface Exchange {
  readonly start: bigint;
  end: bigint | undefined;
}
const { handler } = (await import(pathToFileURL(plan.handlerPath).href)) as { handler: Handler };

/**
 * BENCH_AB_HANDLER: another build of the same function (e.g. a change under test, bundled from its own checkout),
 * called interleaved with this one and timed alike, so that two versions are compared under the same load.
 */
const other = process.env['BENCH_AB_HANDLER'];
const otherHandler = other === undefined ? undefined : ((await import(pathToFileURL(other).href)) as { handler: Handler }).handler;

/**
 * One invocation as Lambda makes it: the runtime builds the event and the context before the handler runs and
 * serialises the response after, so only the handler's own promise is timed (`onlyTheHandler`).
 */
async function callHandler(
  onlyTheHandler: (run: () => Promise<unknown>) => Promise<unknown> = (run) => run(),
  target: Handler = handler,
): Promise<Record<string, unknown>> {
  const event = httpApiEvent(plan.request);
  const context = lambdaContext(plan.lambda);
  let response: { statusCode: number; body: string } | undefined;
  await onlyTheHandler(async () => {
    response = await target(event, context);
  });
  if (response === undefined || response.statusCode !== 200) throw new Error(`handler answered ${response?.statusCode}: ${response?.body}`);
  return JSON.parse(response.body) as Record<string, unknown>;
}

let last: Record<string, unknown> = {};
for (let i = 0; i < plan.warmupCalls; i++) {
  last = await callHandler();
  if (otherHandler !== undefined) await callHandler(undefined, otherHandler);
}

// The same client settings as src/container.ts.
const dynamo = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: plan.region, ...DYNAMODB_ATTEMPTS, endpoint: plan.dynamoDbEndpoint }),
  {
    marshallOptions: { removeUndefinedValues: true },
  },
);
const sts = new STSClient({ region: plan.region, ...ATTEMPTS, endpoint: plan.stsEndpoint });
const unsignedSts = new STSClient({
  region: plan.region,
  ...ATTEMPTS,
  endpoint: plan.stsEndpoint,
  credentials: () => Promise.reject(new Error('unsigned')),
});
const signingKeys = new KmsSigningKeys(new KMSClient({ region: plan.region, ...ATTEMPTS, endpoint: plan.kmsEndpoint }), {
  signingKeyId: plan.signingKeyId,
  publishedKeyIds: [],
});

const audit = (await dynamo.send(new GetCommand({ TableName: plan.auditTable, Key: { eventId: last['grantId'] }, ConsistentRead: true })))
  .Item;
if (audit === undefined || audit['outcome'] !== 'granted') throw new Error(`no granted audit record for ${String(last['grantId'])}`);
const caller = audit['caller'] as { issuerId: string; subject: string; groups: string[] };
const session = await emulatorSession(plan.stsEndpoint, String(last['AccessKeyId']));
const assumeRoleInput: AssumeRoleCommandInput = {
  RoleArn: session.roleArn,
  RoleSessionName: session.roleSessionName,
  SourceIdentity: session.sourceIdentity,
  DurationSeconds: session.durationSeconds,
  Policy: session.policy,
  Tags: session.tags.length > 0 ? session.tags : undefined,
  TransitiveTagKeys: session.transitiveTagKeys.length > 0 ? session.transitiveTagKeys : undefined,
};
// A token of the broker's shape for this grant, signed by the broker's key: what KMS signs and STS reads on each request.
const userKey = String((audit['caller'] as { userKey: string }).userKey);
const claimsOf = (grantId: string) =>
  grantTokenClaims(session, {
    issuer: plan.tokenIssuer,
    audience: plan.tokenAudience,
    grantId,
    entitlementId: String(last['entitlement']),
    userKey,
  });
const minted = plan.vending === 'keyvend-issuer' ? (await signingKeys.sign(claimsOf(randomUUID()))).token : undefined;
// The broker's own read: the definition, the caller's grant keys and the two revocation marks (one BatchGetItem).
const batchKeys = grantLookupKeys(caller, String(last['entitlement'])).all;

const discovery = (await (await fetch(`${plan.jwt.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)).json()) as {
  jwks_uri: string;
};
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { cooldownDuration: 30_000, cacheMaxAge: 300_000 });
const verifyOptions = {
  issuer: plan.jwt.issuer,
  audience: [...plan.jwt.audiences],
  algorithms: [...plan.jwt.algorithms],
  requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
  maxTokenAge: plan.jwt.maxTokenAgeSeconds,
  clockTolerance: plan.jwt.clockToleranceSeconds,
  ...(plan.jwt.typ === undefined ? {} : { typ: plan.jwt.typ }),
};

const readEntitlement = () =>
  dynamo.send(new BatchGetCommand({ RequestItems: { [plan.entitlementsTable]: { Keys: batchKeys, ConsistentRead: true } } }));
const putAuditItem = () =>
  dynamo.send(
    new PutCommand({
      TableName: plan.auditTable,
      Item: { ...audit, eventId: randomUUID() },
      ConditionExpression: 'attribute_not_exists(eventId)',
    }),
  );
const operations: Record<Exclude<WarmOperation, 'handler'>, () => Promise<unknown>> = {
  jwtVerify: () => jwtVerify(plan.token, jwks, verifyOptions),
  batchGetItem: readEntitlement,
  kmsSign: () => (plan.vending === 'keyvend-issuer' ? signingKeys.sign(claimsOf(randomUUID())) : Promise.resolve()),
  stsCall: () =>
    minted === undefined
      ? sts.send(new AssumeRoleCommand(assumeRoleInput))
      : unsignedSts.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: session.roleArn,
            RoleSessionName: session.roleSessionName,
            WebIdentityToken: minted.reveal(),
            DurationSeconds: session.durationSeconds,
            Policy: session.policy,
          }),
        ),
  putItem: () => putAuditItem(),
};
for (const operation of Object.values(operations)) await operation(); // warm their connections and caches too

const samples = Object.fromEntries(WARM_OPERATIONS.map((op) => [op, [] as number[]])) as Record<WarmOperation, number[]>;
const httpSamples = Object.fromEntries(WARM_OPERATIONS.map((op) => [op, [] as number[]])) as Record<WarmOperation, number[]>;
const otherSamples: number[] = [];
const otherHttpSamples: number[] = [];
// How long each HTTP exchange of the process takes, from the request's creation to the end of its response: what
// separates the calls' own time (the local services answering) from the process's work around them.
let httpMs = 0;
/** The exchanges of the run being timed, in the order they began. */
let exchangesOfRun: Exchange[] = [];
const exchanges = new WeakMap<object, Exchange>();
subscribe('http.client.request.start', (message) => {
  const exchange: Exchange = { start: process.hrtime.bigint(), end: undefined };
  exchanges.set((message as { request: object }).request, exchange);
  exchangesOfRun.push(exchange);
});
subscribe('http.client.response.finish', (message) => {
  const exchange = exchanges.get((message as { request: object }).request);
  if (exchange === undefined) return;
  exchange.end = process.hrtime.bigint();
  httpMs += Number(exchange.end - exchange.start) / 1e6;
});
/** One timed run: when it began and ended, and its HTTP exchanges. */
interface Run {
  readonly start: bigint;
  readonly end: bigint;
  readonly exchanges: readonly Exchange[];
}
const timedInto = async (total: number[], http: number[], run: () => Promise<unknown>): Promise<Run> => {
  httpMs = 0;
  exchangesOfRun = [];
  const start = process.hrtime.bigint();
  await run();
  const end = process.hrtime.bigint();
  total.push(Number(end - start) / 1e6);
  http.push(httpMs);
  return { start, end, exchanges: exchangesOfRun };
};
const timed = (op: WarmOperation, run: () => Promise<unknown>) => timedInto(samples[op], httpSamples[op], run);

/**
 * The work between HTTP exchanges, segment by segment: what runs before the first request is sent, between one
 * response and the next request, and after the last response. `runs` are timed one after the other (the unavoidable
 * calls) or one alone (the handler); either way the n exchanges make n + 1 segments. Undefined if an exchange
 * overlapped another or never ended.
 */
function segmentsOf(runs: readonly Run[]): number[] | undefined {
  const segments = [0];
  for (const { start, end, exchanges: made } of runs) {
    let from = start;
    for (const exchange of made) {
      if (exchange.end === undefined || exchange.start < from) return undefined;
      segments[segments.length - 1] = (segments.at(-1) ?? 0) + Number(exchange.start - from) / 1e6;
      segments.push(0);
      from = exchange.end;
    }
    segments[segments.length - 1] = (segments.at(-1) ?? 0) + Number(end - from) / 1e6;
  }
  return segments;
}
const segments: { handler: number[][]; unavoidable: number[][] } = { handler: [], unavoidable: [] };
// What the handler logs per call: its lines go to stdout, which Lambda sends to CloudWatch Logs.
let logBytes = 0;
const write = process.stdout.write.bind(process.stdout);
const countingWrite = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
for (let i = 0; i < plan.measuredCalls; i++) {
  let handlerRun: Run | undefined;
  const thisOne = async () => {
    process.stdout.write = countingWrite;
    await callHandler(async (run) => {
      handlerRun = await timed('handler', run);
    });
    process.stdout.write = write;
  };
  const otherOne = async () => {
    if (otherHandler !== undefined) await callHandler((run) => timedInto(otherSamples, otherHttpSamples, run), otherHandler);
  };
  // Alternating which goes first, so neither always follows the unavoidable calls.
  if (i % 2 === 0) await thisOne().then(otherOne);
  else await otherOne().then(thisOne);
  const unavoidableRuns: Run[] = [];
  for (const [op, run] of Object.entries(operations)) unavoidableRuns.push(await timed(op as WarmOperation, run));
  const handlerSegments = handlerRun === undefined ? undefined : segmentsOf([handlerRun]);
  const unavoidableSegments = segmentsOf(unavoidableRuns);
  // Compared only when both made the same calls (the handler's occasional extra read, e.g. of the granted-groups list, is not).
  if (handlerSegments !== undefined && unavoidableSegments?.length === handlerSegments.length) {
    segments.handler.push(handlerSegments);
    segments.unavoidable.push(unavoidableSegments);
  }
}

// The capacity DynamoDB charges for the request's read and its one audit write, as it reports it.
const read = await dynamo.send(
  new BatchGetCommand({
    RequestItems: { [plan.entitlementsTable]: { Keys: batchKeys, ConsistentRead: true } },
    ReturnConsumedCapacity: 'INDEXES',
  }),
);
const written = await dynamo.send(
  new PutCommand({
    TableName: plan.auditTable,
    Item: { ...audit, eventId: randomUUID() },
    ConditionExpression: 'attribute_not_exists(eventId)',
    ReturnConsumedCapacity: 'INDEXES',
  }),
);
const writeIndexUnits = Object.fromEntries(
  Object.entries(written.ConsumedCapacity?.GlobalSecondaryIndexes ?? {}).map(([name, c]) => [name, c.CapacityUnits ?? 0]),
);

const result: WarmResult = {
  samples,
  httpSamples,
  segments,
  ...(otherHandler === undefined ? {} : { other: { samples: otherSamples, httpSamples: otherHttpSamples } }),
  auditItemBytes: Buffer.byteLength(JSON.stringify(audit)),
  policyChars: session.policy?.length ?? 0,
  tagCount: session.tags.length,
  logBytesPerCall: logBytes / plan.measuredCalls,
  capacity: {
    readUnits: (read.ConsumedCapacity ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0),
    writeUnits: written.ConsumedCapacity?.CapacityUnits ?? 0,
    writeTableUnits: written.ConsumedCapacity?.Table?.CapacityUnits ?? 0,
    writeIndexUnits,
  },
};
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
process.exit(0);
