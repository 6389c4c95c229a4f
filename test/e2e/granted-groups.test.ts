import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionKey, grantedGroupsKey } from '../../src/adapters/dynamodb/keys.ts';
import { type Entitlement, parseEntitlement } from '../../src/domain/entitlement.ts';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { auditRecords, dynamo, postCredentials, stack, testToken } from '../support/e2e.ts';
import { type SecondBroker, startSecondBroker } from '../support/second-broker.ts';

/**
 * Issue 14, item 5 (ADR 0018): with the granted-groups list kept, as deployed, a caller with 100 groups is entitled
 * through the one that is granted, the record names it, and the other 99 grant nothing.
 */
const ENTITLEMENT = 'granted-groups-e2e';
const GRANTED = 'gg-granted';
const table = () => stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'];
const others = Array.from({ length: 99 }, (_, i) => `gg-other-${i}`);

describe('the granted-groups list through the local stack', () => {
  let broker: SecondBroker;
  let entitlement: Entitlement;

  beforeAll(async () => {
    // An entitlement of its own, shaped as the fixtures' hourly-readonly (the demo roles that trust the broker's issuer
    // pin the entitlements they serve), granted to one group by the writer
    const stored = await dynamo().send(new GetCommand({ TableName: table(), Key: definitionKey('hourly-readonly'), ConsistentRead: true }));
    const parsed = parseEntitlement({ ...(stored.Item?.['definition'] as object), id: ENTITLEMENT });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    entitlement = parsed.entitlement;
    await applyEntitlements(dynamo(), table() ?? '', [{ entitlement, grants: [{ issuer: 'test', group: GRANTED }] }], { prune: false });
    broker = await startSecondBroker('granted-groups', { KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: '60' });
  });
  afterAll(async () => {
    await broker?.close();
    await applyEntitlements(dynamo(), table() ?? '', [{ entitlement, grants: [] }], { prune: false });
    await dynamo().send(new DeleteCommand({ TableName: table(), Key: definitionKey(ENTITLEMENT) }));
  });

  it('grants a caller with 100 groups through the granted one, naming it in the record, and nothing through the other 99', async () => {
    // Prepare
    const granted = await testToken({ sub: 'gg-member', groups: [...others, GRANTED] });
    const outsider = await testToken({ sub: 'gg-outsider', groups: [...others, 'gg-not-granted'] });
    const ask = (token: string) => postCredentials(token, { entitlement: ENTITLEMENT }, { apiUrl: broker.apiUrl });
    const list = await dynamo().send(new GetCommand({ TableName: table(), Key: grantedGroupsKey('test'), ConsistentRead: true }));

    // Act: the first request reads the list after its own read; the later ones ask only for the listed groups
    const responses = [];
    for (let i = 0; i < 3; i++) responses.push(await ask(granted));
    const refused = await ask(outsider);

    // Assess
    expect(list.Item?.['groups']).toContain(GRANTED);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(refused.status).toBe(403);
    expect(refused.json['error']).toBe('not_entitled');
    const byId = new Map((await auditRecords()).map((r) => [String(r['eventId']), r]));
    for (const response of responses) {
      const record = byId.get(String(response.json['grantId']));
      expect(record?.['entitlement']).toMatchObject({ id: ENTITLEMENT, grantedBy: [{ group: GRANTED }] });
      expect(record?.['caller']).toMatchObject({ groups: others.slice(0, 5), groupCount: 100 });
    }
  });
});
