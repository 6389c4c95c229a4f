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
