import { describe, expect, it } from 'vitest';
import type { IssueCredentialsInput } from '../../../src/app/issue-credentials.ts';
import { InvalidTokenError } from '../../../src/domain/errors.ts';
import { failure, issueCredentialsHarness } from '../../support/use-cases.ts';
import { entitlementFor, principalFor } from '../fakes.ts';

const request = (sourceIp: string): IssueCredentialsInput => ({
  caller: { kind: 'bearer', authorization: 'Bearer forged' },
  entitlement: 'photo-uploads',
  durationSeconds: 900,
  output: 'credentials',
  context: { requestId: 'req-1', sourceIp },
});

describe('refusals without a verified caller are aggregated, denials of a caller keep their own record', () => {
  it('counts a flood of forged tokens from one source in one aggregate, and writes no item per request', async () => {
    // Prepare
    const { issue, audit, log, sts } = issueCredentialsHarness({ principal: new InvalidTokenError('bad_signature') });

    // Act
    for (let i = 0; i < 200; i++) await failure(issue(request('203.0.113.50')));

    // Assess
    expect(audit.writes).toEqual([]);
    expect(audit.aggregate('anon#2026-11-23T09:30#203.0.113.50')).toMatchObject({ requests: 200, reasons: { bad_signature: 200 } });
    expect(log.decisions).toHaveLength(200);
    expect(sts.calls).toHaveLength(0);
  });

  it('still writes a denial of a verified caller as its own record', async () => {
    // Prepare
    const { issue, audit } = issueCredentialsHarness({ entitlements: [entitlementFor({ id: 'other' })] });

    // Act
    const error = await failure(issue(request('203.0.113.51')));

    // Assess
    expect(error.reason).toBe('no_matching_entitlement');
    expect(audit.anonymous).toEqual([]);
    expect(audit.last).toMatchObject({ outcome: 'denied', caller: { userKey: principalFor().userKey } });
  });

  it('keeps the refusal, with an alarm and the decision line, when the aggregate cannot be written', async () => {
    // Prepare
    const { issue, audit, log } = issueCredentialsHarness({ principal: new InvalidTokenError('token_expired') });
    audit.failOn.add('countAnonymous');

    // Act
    const error = await failure(issue(request('203.0.113.52')));

    // Assess
    expect(error.code).toBe('invalid_token');
    expect(log.alarms.map((a) => a.event)).toEqual(['audit_write_failed_on_denial']);
    expect(log.decisions.at(-1)).toMatchObject({ outcome: 'denied', reason: 'token_expired' });
  });
});
