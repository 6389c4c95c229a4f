import { readFileSync } from 'node:fs';
import { BatchWriteCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { importJWK, type JWK, SignJWT } from 'jose';
import { join } from 'node:path';
import { createTables, tableDefinitionsFromServerlessYml } from '../infra/local/dynamodb.ts';
import { ROOT, type startLocalStack } from '../infra/local/stack.ts';
import { definitionKey, grantedGroupsKey, grantPartitionKey, grantSortKey } from '../src/adapters/dynamodb/keys.ts';
import type { TestIssuer } from '../test/support/test-issuer.ts';
import { TEST_CLIENT_ID } from '../test/support/test-issuer.ts';
import type { HandlerRequest } from './protocol.ts';

type Stack = Awaited<ReturnType<typeof startLocalStack>>;

/** The group the scale callers' grant names; the rest of a caller's groups grant nothing. */
export const GRANTED_GROUP = 'bench-granted';

/** The local stack's entitlements table, the one its broker reads. */
export const entitlementsTableOf = (stack: Stack): string => stack.brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'] ?? '';

/** Adds groups to the tests' issuer's granted-groups list, before their grants, as the entitlements writer does (ADR 0018). */
async function listGrantedGroups(stack: Stack, table: string, groups: readonly string[]): Promise<void> {
  if (groups.length === 0) return;
  await stack.documentClient.send(
    new UpdateCommand({
      TableName: table,
      Key: grantedGroupsKey('test'),
      UpdateExpression: 'SET #issuer = :issuer ADD #groups :groups',
      ExpressionAttributeNames: { '#issuer': 'issuer', '#groups': 'groups' },
      ExpressionAttributeValues: { ':issuer': 'test', ':groups': new Set(groups) },
    }),
  );
}

/**
 * Grants `entitlementId` to the tests' issuer's GRANTED_GROUP, as the entitlements writer would store the grant
 * (the store only asks whether the item exists), the group listed first.
 */
export async function grantToBenchGroup(stack: Stack, entitlementId: string): Promise<void> {
  await listGrantedGroups(stack, entitlementsTableOf(stack), [GRANTED_GROUP]);
  await stack.documentClient.send(
    new PutCommand({
      TableName: entitlementsTableOf(stack),
      Item: { pk: grantPartitionKey({ issuer: 'test', group: GRANTED_GROUP }), sk: grantSortKey(entitlementId) },
    }),
  );
}

/** Entitlement definitions in `table`, the bench's fillers included. */
export async function countDefinitions(stack: Stack, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.documentClient.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :def',
        ExpressionAttributeValues: { ':def': 'DEF' },
        Select: 'COUNT',
        ExclusiveStartKey: start,
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

/**
 * Filler entitlements `bench-filler-<from..to-1>`, each a definition and one grant to one of 1,000 other groups,
 * 25 items per BatchWriteItem, 8 at a time: what a large organisation's table holds besides the entitlement asked for.
 * Their groups go on the issuer's granted-groups list first, so the list is as long as such a table's would be.
 */
export async function seedFillers(
  stack: Stack,
  table: string,
  from: number,
  to: number,
  definition: Record<string, unknown>,
): Promise<void> {
  await listGrantedGroups(
    stack,
    table,
    Array.from({ length: Math.min(1000, Math.max(0, to - from)) }, (_, i) => `filler-${(from + i) % 1000}`),
  );
  const items: Record<string, unknown>[] = [];
  for (let i = from; i < to; i++) {
    const id = `bench-filler-${i}`;
    items.push({ ...definitionKey(id), definition: { ...definition, id } });
    items.push({ pk: grantPartitionKey({ issuer: 'test', group: `filler-${i % 1000}` }), sk: grantSortKey(id) });
  }
  await writeItems(stack, table, items);
}

/**
 * A second entitlements table with every item of the stack's (its entitlements, grants and granted-groups list), for
 * the same requests to be asked of a table of another size in the same process.
 */
export async function copyOfEntitlementsTable(stack: Stack, name: string): Promise<string> {
  const source = entitlementsTableOf(stack);
  await createTables(
    stack.dynamo.endpoint,
    tableDefinitionsFromServerlessYml(join(ROOT, 'serverless.yml'), {
      entitlements: name,
      audit: stack.brokerEnv['KEYVEND_AUDIT_TABLE'] ?? '',
    }),
  );
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.documentClient.send(new ScanCommand({ TableName: source, ExclusiveStartKey: start, ConsistentRead: true }));
    await writeItems(stack, name, page.Items ?? []);
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return name;
}

/** Items written 25 per BatchWriteItem, 8 at a time, each batch until nothing is left unprocessed. */
async function writeItems(stack: Stack, table: string, items: readonly Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = (batches[next++] ?? []).map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const result = await stack.documentClient.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (result.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A POST /v1/credentials from the tests' issuer for a caller in `groups` groups, the last of them the granted one. */
export async function scaleRequest(testIssuer: TestIssuer, groups: number, entitlement: string): Promise<HandlerRequest> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    iss: testIssuer.issuer,
    aud: testIssuer.audience,
    sub: `bench-caller-${groups}`,
    client_id: TEST_CLIENT_ID,
    groups: [...Array.from({ length: groups - 1 }, (_, i) => `other-group-${i}`), GRANTED_GROUP],
    department: 'research',
    jti: `bench-${Math.random().toString(36).slice(2)}`,
    iat: now,
    exp: now + 3000,
  })
    .setProtectedHeader({ alg: 'RS256', kid: testIssuer.rsa.kid, typ: 'at+jwt' })
    .sign(await importJWK(testIssuer.rsa.privateJwk as JWK, 'RS256'));
  return {
    method: 'POST',
    path: '/v1/credentials',
    authorization: `Bearer ${token}`,
    body: JSON.stringify({ entitlement, durationSeconds: 900 }),
  };
}

export interface LoadRun {
  readonly grants: number;
  readonly concurrency: number;
  /** By HTTP status; serverless-offline answers a Lambda timeout with 200 and an error body, counted as `timeout`. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Requests made first, at the same concurrency, to start serverless-offline's workers (not in the figures). */
  readonly warmup: number;
  readonly seconds: number;
  readonly latencyMs: readonly number[];
  /** Sessions STS issued during the run, warm-up included. */
  readonly newSessions: number;
  /** Of those, how many have exactly one granted audit record naming their AccessKeyId. */
  readonly sessionsWithOneRecord: number;
  /**
   * Every new session's own record (the audit eventId its `keyvend:grant` tag names), by outcome: `granted`, or for an
   * invocation cut after STS, `pending` / `minted_not_delivered`; `missing` would be a session without any record.
   */
  readonly sessionRecordOutcomes: Readonly<Record<string, number>>;
  /**
   * Of the sessions without a granted record, how many the broker's `keyvend.attempt` line names (by the grant id of
   * their `keyvend:grant` tag): the line written before STS, all that names a session whose invocation was cut after
   * STS answered and before its record was written (ADR 0011).
   */
  readonly unrecordedNamedByAttempt: number;
  /** Of all the new sessions, how many an attempt line names: that the broker's log was read as it should be. */
  readonly namedByAttempt: number;
  /** 200 responses whose grantId is a granted record with the response's AccessKeyId. */
  readonly responsesWithTheirRecord: number;
  readonly ok: number;
}

/** Where the load goes: a broker of the local stack, and the file its output (the decision and attempt lines) goes to. */
export interface LoadTarget {
  readonly apiUrl: string;
  readonly logFile: string;
}

/**
 * `grants` POST /v1/credentials through the local HTTP stack (serverless-offline), `concurrency` at a time, then the
 * audit reconciled: every session STS issued has exactly one granted record, and every answer its own; a session
 * without one must at least be named by the broker's attempt line.
 */
export async function loadRun(
  stack: Stack,
  target: LoadTarget,
  token: string,
  entitlement: string,
  grants: number,
  concurrency: number,
): Promise<LoadRun> {
  const sessions = async () =>
    (await (await fetch(`${stack.sts.url}/_emulator/sessions`)).json()) as {
      accessKeyId: string;
      tags: { Key: string; Value: string }[];
    }[];
  const before = new Set((await sessions()).map((s) => s.accessKeyId));
  const run = async (count: number) => {
    const statuses: Record<string, number> = {};
    const latencyMs: number[] = [];
    const answers: { grantId: string; accessKeyId: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next += 1;
        const start = performance.now();
        let response: Response;
        let body: { grantId?: unknown; AccessKeyId?: unknown; errorType?: unknown };
        try {
          response = await fetch(`${target.apiUrl}/v1/credentials`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ entitlement, durationSeconds: 900 }),
          });
          body = (await response.json()) as typeof body;
        } catch {
          // serverless-offline under this load sometimes resets the connection: counted, not fatal.
          statuses['connection_reset'] = (statuses['connection_reset'] ?? 0) + 1;
          continue;
        }
        latencyMs.push(performance.now() - start);
        const status = body.errorType === 'LambdaTimeoutError' ? 'timeout' : String(response.status);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (response.status === 200 && typeof body.grantId === 'string' && typeof body.AccessKeyId === 'string') {
          answers.push({ grantId: body.grantId, accessKeyId: body.AccessKeyId });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { statuses, latencyMs, answers };
  };
  const warmup = concurrency * 2;
  await run(warmup);
  const started = performance.now();
  const { statuses, latencyMs, answers } = await run(grants);
  const seconds = (performance.now() - started) / 1000;
  const freshSessions = (await sessions()).filter((session) => !before.has(session.accessKeyId));
  const fresh = freshSessions.map((session) => session.accessKeyId);
  const recordsByKey = new Map<string, string[]>();
  const outcomeById = new Map<string, string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await stack.documentClient.send(
      new ScanCommand({ TableName: stack.brokerEnv['KEYVEND_AUDIT_TABLE'], ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) {
      outcomeById.set(String(item['eventId']), String(item['outcome']));
      const accessKeyId = (item['session'] as { accessKeyId?: string } | undefined)?.accessKeyId;
      if (item['outcome'] !== 'granted' || accessKeyId === undefined) continue;
      recordsByKey.set(accessKeyId, [...(recordsByKey.get(accessKeyId) ?? []), String(item['eventId'])]);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  const grantIdOf = (session: (typeof freshSessions)[number]) => session.tags.find((tag) => tag.Key === 'keyvend:grant')?.Value ?? '';
  const unrecorded = freshSessions.filter((session) => recordsByKey.get(session.accessKeyId)?.length !== 1);
  const attempted = attemptedGrantIds(target.logFile);
  return {
    grants,
    concurrency,
    statuses,
    warmup,
    seconds,
    latencyMs,
    newSessions: fresh.length,
    sessionsWithOneRecord: fresh.filter((id) => recordsByKey.get(id)?.length === 1).length,
    sessionRecordOutcomes: freshSessions.reduce<Record<string, number>>((counts, session) => {
      const outcome = outcomeById.get(grantIdOf(session)) ?? 'missing';
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      return counts;
    }, {}),
    unrecordedNamedByAttempt: unrecorded.filter((session) => attempted.has(grantIdOf(session))).length,
    namedByAttempt: freshSessions.filter((session) => attempted.has(grantIdOf(session))).length,
    responsesWithTheirRecord: answers.filter((a) => recordsByKey.get(a.accessKeyId)?.includes(a.grantId) === true).length,
    ok: answers.length,
  };
}

/** The grant ids the broker's `keyvend.attempt` lines name, from its output (serverless-offline's, one JSON line each). */
function attemptedGrantIds(logFile: string): Set<string> {
  const ids = new Set<string>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const start = line.indexOf('{');
    if (start === -1 || !line.includes('"keyvend.attempt"')) continue;
    try {
      const grantId = (JSON.parse(line.slice(start)) as { attempt?: { grantId?: unknown } }).attempt?.grantId;
      if (typeof grantId === 'string') ids.add(grantId);
    } catch {
      // not one of the broker's JSON lines
    }
  }
  return ids;
}
