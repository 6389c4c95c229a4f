import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter } from '../../../src/adapters/memory/in-memory-rate-limiter.ts';
import type { IssueCredentialsInput } from '../../../src/app/issue-credentials.ts';
import { ThrottledError } from '../../../src/domain/errors.ts';
import { failure, issueCredentialsHarness } from '../../support/use-cases.ts';
import { fixedClock, principalFor } from '../fakes.ts';

const request: IssueCredentialsInput = {
  caller: { kind: 'bearer', authorization: 'Bearer token' },
  entitlement: 'photo-uploads',
  durationSeconds: 900,
  output: 'credentials',
  context: { requestId: 'req-1', sourceIp: '203.0.113.9' },
};

describe('issueCredentials: per-caller rate limit (ADR 0015)', () => {
  it('refuses the request over the budget with 429 throttled and Retry-After, audited as that caller, before any read or STS call', async () => {
    // Prepare
    const rateLimiter = new InMemoryRateLimiter({ perMinute: 60, burst: 2 }, fixedClock());
    const { issue, store, sts, audit, log } = issueCredentialsHarness({}, { rateLimiter });
    await issue(request);
    await issue(request);
    const lookupsBefore = store.lookups.length;
    const writesBefore = audit.writes.length;

    // Act
    const error = await failure(issue(request));

    // Assess
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({ code: 'throttled', httpStatus: 429, reason: 'rate_limited', retryAfterSeconds: 1 });
    expect(store.lookups.length).toBe(lookupsBefore);
    expect(sts.calls).toHaveLength(2);
    expect(audit.writes.slice(writesBefore)).toEqual([
      {
        operation: 'record',
        record: expect.objectContaining({ outcome: 'denied', errorCode: 'throttled', reason: 'rate_limited' }),
      },
    ]);
    expect(audit.last?.caller?.userKey).toBe(principalFor().userKey);
    expect(log.decisions.at(-1)).toMatchObject({ reason: 'rate_limited' });
  });

  it('spends the budget of the verified caller only: another caller is not refused', async () => {
    // Prepare
    const rateLimiter = new InMemoryRateLimiter({ perMinute: 60, burst: 1 }, fixedClock());
    const alice = issueCredentialsHarness({}, { rateLimiter });
    const bob = issueCredentialsHarness({ principal: principalFor({ subject: 'bob-0002' }) }, { rateLimiter });
    await alice.issue(request);

    // Act
    const bobsGrant = await bob.issue(request);
    const alicesSecond = await failure(alice.issue(request));

    // Assess
    expect(bobsGrant.principal.subject).toBe('bob-0002');
    expect(alicesSecond.code).toBe('throttled');
  });

  it('does not count a request that never authenticated', async () => {
    // Prepare
    const rateLimiter = new InMemoryRateLimiter({ perMinute: 60, burst: 1 }, fixedClock());
    const anonymous = issueCredentialsHarness({ principal: new Error('no') }, { rateLimiter });

    // Act
    await failure(anonymous.issue(request));

    // Assess
    expect(rateLimiter.size).toBe(0);
  });
});
