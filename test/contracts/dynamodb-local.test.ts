import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CFN_TAGS } from '../../infra/local/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbEntitlementStore } from '../../src/adapters/dynamodb/dynamodb-entitlement-store.ts';
import { DynamoDbReplayCache } from '../../src/adapters/dynamodb/dynamodb-replay-cache.ts';
import { DynamoDbRevocationStore } from '../../src/adapters/dynamodb/dynamodb-revocation-store.ts';
import { definitionKey, grantedGroupsKey, revocationKey } from '../../src/adapters/dynamodb/keys.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { parse } from 'yaml';
import { documentClientOf, localTables, scanAll } from '../support/dynamodb.ts';
import { readAnonymousAggregate } from '../../src/adapters/dynamodb/anonymous-aggregates.ts';
import { anonymousRefusalsContract } from './anonymous-refusals.contract.ts';
import { auditLogContract } from './audit-log.contract.ts';
import { entitlementStoreContract } from './entitlement-store.contract.ts';
import { replayCacheContract } from './replay-cache.contract.ts';

/** The DynamoDB adapters on DynamoDB Local, with the tables as serverless.yml declares them, held to the port contracts. */
const TABLES = { entitlements: 'contract-entitlements', audit: 'contract-audit', samlReplay: 'contract-saml-replay' };
const local = localTables(TABLES);

/**
 * A document client on DynamoDB Local. Once armed, the next PutItem reaches the table and commits, then
 * loses its response as a reset connection would; the middleware sits inside the SDK's retry loop, so the
 * standard retry sends the same write again.
 */
function documentClient(): { client: DynamoDBDocumentClient; loseNextResponse(): void } {
  const raw = local.rawClient();
  let armed = false;
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (armed && context.commandName === 'PutItemCommand') {
        armed = false;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'Error' });
      }
      return result;
    },
    { step: 'deserialize', name: 'loseNextPutResponse' },
  );
  return {
    client: documentClientOf(raw),
    loseNextResponse: () => {
      armed = true;
    },
  };
}

auditLogContract('DynamoDbAuditLog on DynamoDB Local', {
  make: () => {
    const { client, loseNextResponse } = documentClient();
    const stored = async (eventId: string): Promise<AuditRecord | undefined> => {
      const { Item } = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId }, ConsistentRead: true }));
      if (Item === undefined) return undefined;
      // The index keys and the TTL are the table's, not the record's.
      const { userKey: _userKey, entitlementId: _entitlementId, day: _day, expiresAt: _expiresAt, ...record } = Item;
      return record as AuditRecord;
    };
    return { log: new DynamoDbAuditLog(client, TABLES.audit, 30), stored, loseNextResponse };
  },
  broken: () => new DynamoDbAuditLog(documentClient().client, 'contract-no-such-table', 30),
});

anonymousRefusalsContract('DynamoDbAuditLog on DynamoDB Local', {
  make: () => {
    const { client } = documentClient();
    return {
      log: new DynamoDbAuditLog(client, TABLES.audit, 30),
      aggregate: (eventId) => readAnonymousAggregate(client, TABLES.audit, eventId),
    };
  },
  broken: () => new DynamoDbAuditLog(documentClient().client, 'contract-no-such-table', 30),
});

/** The TTL attribute serverless.yml gives a table: DynamoDB Local stores it but never sweeps. */
function ttlAttributeOf(logicalId: string): string {
  const document = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { customTags: CFN_TAGS as never }) as {
    resources: { Resources: Record<string, { Properties: { TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean } } }> };
  };
  const ttl = document.resources.Resources[logicalId]?.Properties.TimeToLiveSpecification;
  if (ttl?.Enabled !== true) throw new Error(`${logicalId} has no TTL`);
  return ttl.AttributeName;
}

/**
 * DynamoDB's TTL sweep, as AWS documents it: an item whose TTL attribute is a Number of epoch seconds at or
 * before now is deleted; any other value (a string, milliseconds far in the future) is never swept.
 */
async function sweepExpired(client: DynamoDBDocumentClient, tableName: string, ttlAttribute: string, now: Date): Promise<void> {
  for (const item of await scanAll(client, tableName)) {
    const ttl = item[ttlAttribute];
    if (typeof ttl === 'number' && ttl * 1000 <= now.getTime())
      await client.send(new DeleteCommand({ TableName: tableName, Key: { pk: item['pk'] } }));
  }
}

replayCacheContract('DynamoDbReplayCache on DynamoDB Local', {
  make: () => {
    const { client } = documentClient();
    const ttlAttribute = ttlAttributeOf('SamlReplayTable');
    return {
      cache: new DynamoDbReplayCache(client, TABLES.samlReplay),
      sweepExpired: (now) => sweepExpired(client, TABLES.samlReplay, ttlAttribute, now),
    };
  },
  broken: () => new DynamoDbReplayCache(documentClient().client, 'contract-no-such-table'),
});

entitlementStoreContract('DynamoDbEntitlementStore on DynamoDB Local', {
  make: () => {
    const { client } = documentClient();
    // The list kept as in a deployed stack (ADR 0018), on a clock the contract moves.
    let nowMs = Date.now();
    const options = { grantedGroupsCacheSeconds: 60, clock: { now: () => new Date(nowMs) } };
    return {
      store: new DynamoDbEntitlementStore(client, TABLES.entitlements, options),
      passGrantedGroupsBound: () => {
        nowMs += options.grantedGroupsCacheSeconds * 1000;
      },
      forgetGrantedGroups: async (issuerId) => {
        await client.send(new DeleteCommand({ TableName: TABLES.entitlements, Key: grantedGroupsKey(issuerId) }));
      },
      revocations: new DynamoDbRevocationStore(client, TABLES.entitlements),
      apply: async (entries) => {
        await applyEntitlements(client, TABLES.entitlements, entries, { prune: false });
      },
      corruptDefinition: async (entitlementId, definition) => {
        const { Item } = await client.send(
          new GetCommand({ TableName: TABLES.entitlements, Key: definitionKey(entitlementId), ConsistentRead: true }),
        );
        await client.send(new PutCommand({ TableName: TABLES.entitlements, Item: { ...Item, definition } }));
      },
      corruptRevocation: async (revocation, value) => {
        await client.send(new PutCommand({ TableName: TABLES.entitlements, Item: { ...revocationKey(revocation.id), revocation: value } }));
      },
    };
  },
});
