import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DynamoDbEntitlementStore } from '../../src/adapters/dynamodb/dynamodb-entitlement-store.ts';
import { definitionKey, grantedGroupsKey, grantPartitionOf } from '../../src/adapters/dynamodb/keys.ts';
import type { Entitlement } from '../../src/domain/entitlement.ts';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile, type EntitlementWithGrants } from '../../src/tools/entitlements-file.ts';
import { localTables } from '../support/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';
import { principalFor } from '../unit/fakes.ts';

/**
 * `entitlements apply` stopped at every possible write: whatever the table holds then, each person gets at most
 * what the old or the new file gives them (issue 10, item 2). The writer uses no transactions, so the
 * in-process engine (dynalite) behaves as DynamoDB Local would and spares the shared machine a JVM.
 */
const TABLE = 'writer-test-entitlements';
const local = localTables({ entitlements: TABLE, audit: 'writer-test-audit' }, { engine: 'dynalite' });
let client: DynamoDBDocumentClient;

beforeAll(() => {
  client = local.documentClient();
});

const WRITE_COMMANDS = new Set(['PutCommand', 'DeleteCommand', 'UpdateCommand', 'BatchWriteCommand', 'TransactWriteCommand']);

/** The document client, failing the n-th write as DynamoDB does when it throttles (the SDK's retries exhausted). */
function failingOnWrite(n: number): DynamoDBDocumentClient {
  let writes = 0;
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: { constructor: { name: string } }) => {
        if (WRITE_COMMANDS.has(command.constructor.name) && ++writes === n) {
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' });
        }
        return (target.send as (c: unknown) => Promise<unknown>)(command);
      };
    },
  });
}

const people = ['alice', 'bob', 'carol', 'dave'] as const;
const principal = (name: string) => principalFor({ issuerId: 'corp', subject: name, groups: [] });

function file(
  id: string,
  action: string,
  resource: string,
  grantees: readonly string[],
  grants: readonly object[] = grantees.map((subject) => ({ issuer: 'corp', subject })),
): EntitlementWithGrants[] {
  const check = checkEntitlementsFile(
    stringify({
      entitlements: [
        {
          id,
          description: 'narrowed while gaining grantees',
          roleArn: 'arn:aws:iam::111111111111:role/keyvend/uploads',
          outputs: ['credentials'],
          maxDurationSeconds: 3600,
          sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] },
          grants,
        },
      ],
    }),
  );
  if (!check.ok) throw new Error(check.problems.join('; '));
  return check.entries;
}

const statementOf = (e: Entitlement | undefined) => (e?.sessionPolicy?.['Statement'] as unknown[] | undefined)?.[0];

describe('applyEntitlements, interrupted', () => {
  it('never lets anyone hold more than the old or the new file gives them, and a second run finishes the job', async () => {
    const store = new DynamoDbEntitlementStore(client, TABLE);
    const oldStatement = { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::shared/*' };
    const newStatement = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/{{userKey}}/*' };
    const oldGrantees = ['alice', 'dave'];
    const newGrantees = ['alice', 'bob', 'carol'];
    let completedAt: number | undefined;

    for (let n = 1; completedAt === undefined && n < 20; n++) {
      // Prepare: the old file is in place
      const id = `narrowing-${n}`;
      const oldFile = file(id, oldStatement.Action, oldStatement.Resource, oldGrantees);
      const newFile = file(id, newStatement.Action, newStatement.Resource, newGrantees);
      await applyEntitlements(client, TABLE, oldFile, { prune: false });

      // Act: apply the new file, failing at the n-th write
      const outcome = await applyEntitlements(failingOnWrite(n), TABLE, newFile, { prune: false }).then(
        () => 'completed' as const,
        (error: unknown) => (error as Error).name,
      );

      // Assess: what the broker would give each person now
      if (outcome === 'completed') completedAt = n;
      else expect(outcome).toBe('ThrottlingException');
      for (const name of people) {
        const granted = await store.findGranted(principal(name), id);
        if (granted === undefined) continue;
        const statement = statementOf(granted);
        const allowedByOld = oldGrantees.includes(name) && JSON.stringify(statement) === JSON.stringify(oldStatement);
        const allowedByNew = newGrantees.includes(name) && JSON.stringify(statement) === JSON.stringify(newStatement);
        expect(allowedByOld || allowedByNew, `write ${n} failed: ${name} holds ${JSON.stringify(statement)}`).toBe(true);
      }

      // Act + Assess: running apply again ends in exactly the new file
      await applyEntitlements(client, TABLE, newFile, { prune: false });
      for (const name of people) {
        const granted = await store.findGranted(principal(name), id);
        if (newGrantees.includes(name)) expect(statementOf(granted)).toEqual(newStatement);
        else expect(granted).toBeUndefined();
      }
      const stored = await client.send(new GetCommand({ TableName: TABLE, Key: definitionKey(id), ConsistentRead: true }));
      expect(stored.Item?.['grants']).toEqual(newGrantees.map((subject) => ({ issuer: 'corp', subject })));
    }
    // Every write of the run was interrupted once before a run got through.
    expect(completedAt).toBeGreaterThan(3);
  });
});

describe("applyEntitlements, each issuer's granted groups (ADR 0018)", () => {
  const ISSUER = 'grp-writer';
  const groupsFile = (id: string, groups: readonly string[]) =>
    file(
      id,
      's3:GetObject',
      'arn:aws:s3:::shared/{{userKey}}/*',
      [],
      groups.map((group) => ({ issuer: ISSUER, group })),
    );
  /** The issuer's list (undefined: no item) and the groups its grant items name, read from the table. */
  async function listAndGrants(): Promise<{ listed: string[] | undefined; granted: string[] }> {
    const listItem = (await client.send(new GetCommand({ TableName: TABLE, Key: grantedGroupsKey(ISSUER), ConsistentRead: true }))).Item;
    const { Items = [] } = await client.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }));
    const granted = Items.map((item) => grantPartitionOf(String(item['pk'])))
      .filter((grant) => grant?.issuerId === ISSUER && grant.kind === 'grp')
      .map((grant) => grant?.name ?? '');
    const listed = listItem === undefined ? undefined : [...((listItem['groups'] as Set<string> | undefined) ?? [])];
    return { listed: listed?.sort(), granted: [...new Set(granted)].sort() };
  }

  it('lists every granted group before its grant is written and drops one only after its last grant, whenever a run stops', async () => {
    let completedAt: number | undefined;
    for (let n = 1; completedAt === undefined && n < 20; n++) {
      // Prepare: two entitlements share group "both"; the new files move "old" to "new" and drop "both" from one
      const [one, two] = [`groups-one-${n}`, `groups-two-${n}`];
      await applyEntitlements(client, TABLE, [...groupsFile(one, ['old', 'both']), ...groupsFile(two, ['both'])], { prune: false });

      // Act: fail at the n-th write
      const outcome = await applyEntitlements(failingOnWrite(n), TABLE, [...groupsFile(one, ['new', 'both']), ...groupsFile(two, [])], {
        prune: false,
      }).then(
        () => 'completed' as const,
        (error: unknown) => (error as Error).name,
      );

      // Assess: the list holds every group a grant names, whatever was written
      if (outcome === 'completed') completedAt = n;
      else expect(outcome).toBe('ThrottlingException');
      const { listed, granted } = await listAndGrants();
      expect(listed, `write ${n} failed`).toEqual(expect.arrayContaining(granted));

      // Act + Assess: a run that gets through leaves exactly the granted groups; then none left: an item without any
      await applyEntitlements(client, TABLE, [...groupsFile(one, ['new', 'both']), ...groupsFile(two, [])], { prune: false });
      expect(await listAndGrants()).toEqual({ listed: ['both', 'new'], granted: ['both', 'new'] });
      await applyEntitlements(client, TABLE, [...groupsFile(one, []), ...groupsFile(two, [])], { prune: false });
      expect(await listAndGrants()).toEqual({ listed: [], granted: [] });
    }
    expect(completedAt).toBeGreaterThan(2);
  });

  it("gives a table an older writer applied (grants, no list) its list on the next run, and drops a pruned entitlement's groups", async () => {
    // Prepare
    await applyEntitlements(client, TABLE, [...groupsFile('groups-older', ['legacy']), ...groupsFile('groups-pruned', ['gone'])], {
      prune: false,
    });
    await client.send(new DeleteCommand({ TableName: TABLE, Key: grantedGroupsKey(ISSUER) }));

    // Act
    const summary = await applyEntitlements(client, TABLE, groupsFile('groups-older', ['legacy']), { prune: false });
    const restored = await listAndGrants();
    await applyEntitlements(client, TABLE, groupsFile('groups-older', ['legacy']), { prune: true });
    const pruned = await listAndGrants();

    // Assess
    expect(summary.unchanged).toEqual(['groups-older']);
    expect(restored).toEqual({ listed: ['gone', 'legacy'], granted: ['gone', 'legacy'] });
    expect(pruned).toEqual({ listed: ['legacy'], granted: ['legacy'] });
  });
});

/** The value with every object's keys in reverse order. */
const reversed = (node: unknown): unknown =>
  Array.isArray(node)
    ? node.map(reversed)
    : typeof node === 'object' && node !== null
      ? Object.fromEntries(
          Object.entries(node)
            .reverse()
            .map(([k, value]) => [k, reversed(value)]),
        )
      : node;

describe('applyEntitlements, again', () => {
  it('counts every entitlement of a file applied a second time as unchanged and writes nothing', async () => {
    // Prepare: the demo file, whose policies have conditions and lists (key order matters to a naive comparison)
    const check = checkEntitlementsFile(readFileSync(join(ROOT, 'infra/local/entitlements.yaml'), 'utf8'));
    if (!check.ok) throw new Error(check.problems.join('; '));
    const first = await applyEntitlements(client, TABLE, check.entries, { prune: false });
    // DynamoDB (Local and AWS) returns a map's keys in an order of its own; dynalite keeps them, so reverse them here.
    for (const { entitlement } of check.entries) {
      const key = definitionKey(entitlement.id);
      const stored = await client.send(new GetCommand({ TableName: TABLE, Key: key, ConsistentRead: true }));
      await client.send(new PutCommand({ TableName: TABLE, Item: { ...key, ...(reversed(stored.Item) as object) } }));
    }
    let writes = 0;
    const counting = new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: { constructor: { name: string } }) => {
          if (WRITE_COMMANDS.has(command.constructor.name)) writes++;
          return (target.send as (c: unknown) => Promise<unknown>)(command);
        };
      },
    });

    // Act
    const second = await applyEntitlements(counting, TABLE, check.entries, { prune: false });

    // Assess
    expect(first.written.length).toBe(check.entries.length);
    expect(second).toEqual({
      written: [],
      unchanged: check.entries.map((e) => e.entitlement.id),
      revokedGrants: 0,
      addedGrants: 0,
      pruned: [],
    });
    expect(writes).toBe(0);
  });
});
