import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords, brokerLogLines, postCredentials, stsCallCount, testToken } from '../support/e2e.ts';
import { type SecondBroker, startSecondBroker } from '../support/second-broker.ts';

/** Issue 13, items 3 and 4: per-caller rate limits on a broker with a small budget, anonymous aggregates, metrics. */

describe('a rate-limited caller (KEYVEND_RATE_LIMIT=12, KEYVEND_RATE_LIMIT_BURST=2)', () => {
  let broker: SecondBroker;

  beforeAll(async () => {
    // A token every 5 s: a loaded machine cannot refill the bucket between the requests of a test.
    broker = await startSecondBroker('rate-limited', { KEYVEND_RATE_LIMIT: '12', KEYVEND_RATE_LIMIT_BURST: '2' });
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
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(5);
    expect(refused.text).not.toMatch(/AccessKeyId|SecretAccessKey|SessionToken/);
    expect(stsAfterRefusal).toBe(stsBefore);
    expect(recovered.status).toBe(200);
    const record = (await auditRecords()).find((r) => r['request']?.['requestId'] === refused.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', errorCode: 'throttled', reason: 'rate_limited', caller: { subject: sub } });
  });

  it('emits embedded-metric-format lines for a grant, a denial, a 429 and an anonymous refusal, without a secret, and the Lambda context on every log line', async () => {
    // Prepare
    const sub = `metrics-${Date.now()}`;
    const startedAt = new Date().toISOString();
    const post = async (claims: Record<string, unknown>) =>
      postCredentials(await testToken({ sub, ...claims }), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });

    // Act
    const grant = await post({});
    const denial = await post({ groups: [] });
    const throttled = await post({});
    const anonymous = await postCredentials('not-a-token', { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = brokerLogLines(broker.logFile).filter((l) => String(l['timestamp'] ?? '') >= startedAt || '_aws' in l);
    const emf = lines.filter((l) => l['_aws']?.['Timestamp'] >= Date.parse(startedAt));

    // Assess: the scenario
    expect([grant.status, denial.status, throttled.status, anonymous.status]).toEqual([200, 403, 429, 401]);
    // Assess: one metric per decision, in the Keyvend namespace, read as CloudWatch reads EMF
    const counted = emf.flatMap((l) =>
      (
        l['_aws']['CloudWatchMetrics'] as { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[]
      ).flatMap((directive) => {
        expect(directive.Namespace).toBe('Keyvend');
        return directive.Metrics.map((m) => {
          expect(m.Unit).toBe('Count');
          expect(l[m.Name]).toBe(1);
          const extra = (directive.Dimensions[0] ?? []).filter((d) => d !== 'service').map((d) => `${d}=${l[d]}`);
          return extra.length === 0 ? m.Name : `${m.Name}{${extra.join(',')}}`;
        });
      }),
    );
    expect(counted).toEqual(
      expect.arrayContaining([
        'Grants',
        'Denials',
        'DenialsByReason{reason=no_matching_entitlement}',
        'RateLimited',
        'DenialsByReason{reason=rate_limited}',
        'AnonymousRefusals',
        'DenialsByReason{reason=malformed_token}',
      ]),
    );
    expect(counted.filter((name) => name === 'Grants')).toHaveLength(1);
    // Assess: no secret, caller or request in a metric line
    const emfText = JSON.stringify(emf);
    for (const value of [
      String(grant.json['SecretAccessKey']),
      String(grant.json['SessionToken']),
      String(grant.json['AccessKeyId']),
      sub,
    ]) {
      expect(emfText).not.toContain(value);
    }
    expect(emfText).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    // Assess: each decision line carries the Lambda context of its invocation
    for (const response of [grant, denial, throttled, anonymous]) {
      const decision = lines.find(
        (l) =>
          l['message'] === 'keyvend.decision' &&
          (response.json['grantId'] !== undefined
            ? l['audit']?.['eventId'] === response.json['grantId']
            : l['audit']?.['request']?.['requestId'] === response.json['requestId']),
      );
      expect(decision).toMatchObject({
        function_request_id: expect.any(String),
        function_name: expect.stringContaining('credentials'),
        cold_start: expect.any(Boolean),
      });
    }
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
