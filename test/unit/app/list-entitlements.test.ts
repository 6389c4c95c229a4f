import { describe, expect, it } from 'vitest';
import { makeListEntitlements } from '../../../src/app/list-entitlements.ts';
import { InvalidTokenError, KeyvendError } from '../../../src/domain/errors.ts';
import { entitlementFor, FakeEntitlementStore, FakeVerifier } from '../fakes.ts';

describe('listEntitlements', () => {
  it('lists only summary fields, sorted by id, never the policy or ExternalId', async () => {
    // Prepare
    const store = new FakeEntitlementStore([
      entitlementFor({ id: 'zeta', externalId: 'secret-ish' }),
      entitlementFor({ id: 'alpha', outputs: ['console', 'credentials'] }),
    ]);
    const list = makeListEntitlements({ verifier: new FakeVerifier(), entitlements: store });

    // Act
    const result = await list('Bearer token');

    // Assess
    expect(result.map((e) => e.id)).toEqual(['alpha', 'zeta']);
    expect(Object.keys(result[0] ?? {}).sort()).toEqual(['description', 'id', 'maxDurationSeconds', 'outputs', 'roleArn']);
    expect(JSON.stringify(result)).not.toContain('secret-ish');
  });

  it('rejects an invalid token before reading anything', async () => {
    // Prepare
    const store = new FakeEntitlementStore();
    store.failure = new Error('must not be read');
    const list = makeListEntitlements({ verifier: new FakeVerifier(new InvalidTokenError('bad_signature')), entitlements: store });

    // Act + Assess
    await expect(list('Bearer x')).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('answers 503 when the store fails, and keeps a KeyvendError from the store as it is', async () => {
    // Prepare
    const down = new FakeEntitlementStore();
    down.failure = new Error('ECONNREFUSED');
    const corrupt = new FakeEntitlementStore();
    corrupt.failure = new KeyvendError('internal_error', 500, 'Internal error.', { reason: 'entitlement_corrupt' });

    // Act + Assess
    await expect(makeListEntitlements({ verifier: new FakeVerifier(), entitlements: down })('Bearer x')).rejects.toMatchObject({
      code: 'upstream_unavailable',
      httpStatus: 503,
    });
    await expect(makeListEntitlements({ verifier: new FakeVerifier(), entitlements: corrupt })('Bearer x')).rejects.toMatchObject({
      reason: 'entitlement_corrupt',
    });
  });
});
