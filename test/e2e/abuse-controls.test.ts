import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords, postCredentials, stsCallCount, testToken } from '../support/e2e.ts';
import { type SecondBroker, startSecondBroker } from '../support/second-broker.ts';

/** Issue 13, item 3: per-caller rate limits, on a broker with the production default rate and a small burst. */

describe('a rate-limited caller (KEYVEND_RATE_LIMIT=60, KEYVEND_RATE_LIMIT_BURST=2)', () => {
  let broker: SecondBroker;

  beforeAll(async () => {
    broker = await startSecondBroker('rate-limited', { KEYVEND_RATE_LIMIT: '60', KEYVEND_RATE_LIMIT_BURST: '2' });
  });
  afterAll(() => broker?.close());

  it('gets 429 throttled with Retry-After once the burst is spent, audited as that caller with no STS call, and recovers after it', async () => {
    // Prepare: a caller of its own, so no other test spends its budget
    const sub = `rate-limited-${Date.now()}`;
    const post = async () => postCredentials(await testToken({ sub }), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });
    const first = await post();
    const second = await post();
    const stsBefore = await stsCallCount();

    // Act
    const refused = await post();
    const stsAfterRefusal = await stsCallCount();
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get('retry-after')) * 1000 + 100));
    const recovered = await post();

    // Assess
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ error: 'throttled', message: 'Too many requests; retry later.' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.text).not.toMatch(/AccessKeyId|SecretAccessKey|SessionToken/);
    expect(stsAfterRefusal).toBe(stsBefore);
    expect(recovered.status).toBe(200);
    const record = (await auditRecords()).find((r) => r['request']?.['requestId'] === refused.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', errorCode: 'throttled', reason: 'rate_limited', caller: { subject: sub } });
  });
});

describe('a flood of requests that never authenticate', () => {
  const isAggregate = (item: Record<string, any>) => String(item['eventId']).startsWith('anon#');
  const requestsIn = (items: Record<string, any>[]) => items.filter(isAggregate).reduce((sum, i) => sum + Number(i['requests']), 0);
  const badSignatureIn = (items: Record<string, any>[]) =>
    items.filter(isAggregate).reduce((sum, i) => sum + Number(i['reason#bad_signature'] ?? 0), 0);

  it('writes aggregate items only (anon#<minute>#<source>, ADD requests), while a denial of a verified caller keeps its own item', async () => {
    // Prepare: a token of the test issuer with its signature altered
    const valid = await testToken();
    const forged = `${valid.slice(0, -6)}${valid.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    const before = await auditRecords();
    const stsBefore = await stsCallCount();

    // Act: 200 forged tokens from one source, ten at a time, then one verified caller who is not entitled
    const statuses: number[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const responses = await Promise.all(Array.from({ length: 10 }, () => postCredentials(forged, { entitlement: 'test-uploads' })));
      statuses.push(...responses.map((r) => r.status));
    }
    const denied = await postCredentials(await testToken({ groups: [] }), { entitlement: 'test-uploads' });
    const after = await auditRecords();

    // Assess: every forged request refused, none of them an item of its own
    expect(new Set(statuses)).toEqual(new Set([401]));
    const beforeIds = new Set(before.map((i) => String(i['eventId'])));
    const added = after.filter((i) => !beforeIds.has(String(i['eventId'])));
    const addedRecords = added.filter((i) => !isAggregate(i));
    expect(addedRecords).toHaveLength(1);
    expect(addedRecords[0]).toMatchObject({
      outcome: 'denied',
      reason: 'no_matching_entitlement',
      caller: { subject: 'tester-0001' },
      request: { requestId: denied.json['requestId'] },
    });
    // One aggregate per source and minute (two if the flood crossed a minute), holding exactly the 200
    expect(added.filter(isAggregate).length).toBeLessThanOrEqual(2);
    expect(requestsIn(after) - requestsIn(before)).toBe(200);
    expect(badSignatureIn(after) - badSignatureIn(before)).toBe(200);
    const aggregate = after.filter(isAggregate).sort((a, b) => String(b['lastSeen']).localeCompare(String(a['lastSeen'])))[0];
    expect(aggregate?.['eventId']).toMatch(/^anon#\d{4}-\d{2}-\d{2}T\d{2}:\d{2}#127\.0\.0\.1$/);
    expect(aggregate).toMatchObject({ kind: 'anonymous_refusals', sourceIp: '127.0.0.1', actions: new Set(['credentials']) });
    expect(aggregate?.['caller']).toBeUndefined();
    expect(await stsCallCount()).toBe(stsBefore);
  });
});
