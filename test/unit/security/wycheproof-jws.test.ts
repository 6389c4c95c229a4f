import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { isCanonicalCompactJws } from '../../../src/adapters/oidc/compact-jws.ts';
import { withKeyPolicy } from '../../../src/adapters/oidc/key-policy.ts';
import { ROOT } from '../../../infra/local/stack.ts';

/**
 * The signature layer as the broker ships it, against C2SP/wycheproof json_web_signature_test.json
 * (Apache-2.0, vendored in test/fixtures/public, see its README): the canonical-encoding check, then jose verifying
 * with the key chosen from a key set (kid, alg, use and key_ops matching, as createRemoteJWKSet does) and
 * an asymmetric algorithm allow-list. HMAC groups are verified with the bare key: the broker never accepts
 * HS*, but the vectors still check jose's MAC layer and our canonical-encoding check ("base64" group).
 */
interface Vector {
  tcId: number;
  comment: string;
  jws: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface Group {
  comment: string;
  public?: JWK | { keys: JWK[] };
  private?: JWK | { keys: JWK[] };
  tests: Vector[];
}

function readFixture(name: string) {
  return JSON.parse(readFileSync(join(ROOT, 'test/fixtures/public/wycheproof', name), 'utf8')) as {
    numberOfTests: number;
    testGroups: Group[];
  };
}
const suite = readFixture('json_web_signature_test.json');
const keySuite = readFixture('json_web_key_test.json');
const BROKER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const keysOf = (group: Group): JWK[] => {
  const key = group.public ?? group.private;
  if (key === undefined) return [];
  return 'keys' in key ? key.keys : [key];
};

/** As the broker verifies: the key chosen from a key set under its key policy, asymmetric algorithms only. */
async function brokerAcceptsWithKeySet(keys: JWK[], jws: string): Promise<boolean> {
  if (!isCanonicalCompactJws(jws)) return false;
  try {
    await compactVerify(jws, withKeyPolicy(createLocalJWKSet({ keys })), { algorithms: BROKER_ALGORITHMS });
    return true;
  } catch {
    return false;
  }
}

async function brokerAccepts(group: Group, jws: string): Promise<boolean> {
  if (!isCanonicalCompactJws(jws)) return false;
  const [key] = keysOf(group);
  if (key === undefined) return false;
  if (key.kty !== 'oct') return brokerAcceptsWithKeySet([key], jws);
  try {
    await compactVerify(jws, await importJWK(key, key.alg ?? 'HS256'), { algorithms: [key.alg ?? 'HS256'] });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the broker's outcome differs from the vector's on purpose, decided from the vector itself: why, and
 * what the broker does instead. Undefined when the vector's expectation applies.
 */
function deliberateDifference(group: Group, vector: Vector): { why: string; accepted: boolean } | undefined {
  if (vector.result === 'invalid' && group.tests.some((t) => t.result === 'valid' && t.jws === vector.jws)) {
    return {
      why: 'the fixture string is byte-identical to a vector of the same key marked valid (its padding was lost in the published file)',
      accepted: true,
    };
  }
  if (vector.result === 'valid' && !/^[A-Za-z0-9_.-]+$/.test(vector.jws)) {
    return { why: 'the broker refuses characters outside base64url instead of skipping them (stricter by design, J-16)', accepted: false };
  }
  const [key] = keysOf(group);
  let headerAlg: unknown;
  try {
    headerAlg = decodeProtectedHeader(vector.jws).alg;
  } catch {
    return undefined;
  }
  if (vector.result === 'valid' && key?.alg !== undefined && key.alg !== headerAlg) {
    return {
      why: `the key is pinned to ${key.alg} but the token says ${String(headerAlg)}: a key set never lends a key to another algorithm`,
      accepted: false,
    };
  }
  return undefined;
}

const cases = suite.testGroups.flatMap((group) =>
  group.tests.map((vector) => [`${group.comment} #${vector.tcId} ${vector.comment} (${vector.result})`, group, vector] as const),
);

describe('Wycheproof JWS vectors against the broker signature layer', () => {
  it('reads the whole suite', () => {
    // Assess
    expect(cases.length).toBe(suite.numberOfTests);
  });

  it.each(cases)('%s', async (_name, group, vector) => {
    // Prepare
    const difference = deliberateDifference(group, vector);

    // Act
    const accepted = await brokerAccepts(group, vector.jws);

    // Assess
    if (difference !== undefined) {
      expect(accepted, difference.why).toBe(difference.accepted);
      return;
    }
    if (vector.result === 'valid') expect(accepted).toBe(true);
    if (vector.result === 'invalid') expect(accepted).toBe(false);
  });

  it('refuses every psychic-signature special case except the one valid signature (J-17)', async () => {
    // Prepare
    const group = suite.testGroups.find((g) => g.comment === 'SpecialCaseEs256');
    expect(group).toBeDefined();

    // Act
    const results = await Promise.all(
      (group?.tests ?? []).map(async (t) => ({ result: t.result, accepted: await brokerAccepts(group as Group, t.jws) })),
    );

    // Assess
    expect(results.filter((r) => r.accepted).length).toBe(results.filter((r) => r.result === 'valid').length);
    expect(results.filter((r) => r.result === 'invalid').every((r) => !r.accepted)).toBe(true);
  });

  it('refuses a JSON Web Key Set with a symmetric key, so HS* can never be used against the broker (J-02)', async () => {
    // Prepare
    const hmac = suite.testGroups.find((g) => g.comment === 'hs256');
    const valid = hmac?.tests.find((t) => t.result === 'valid');

    // Act + Assess
    await expect(
      compactVerify(valid?.jws ?? '', createLocalJWKSet({ keys: [hmac?.private as JWK] }), { algorithms: BROKER_ALGORITHMS }),
    ).rejects.toThrow();
  });
});

const keyCases = keySuite.testGroups.flatMap((group) =>
  group.tests.map((vector) => [`${group.comment} #${vector.tcId} ${vector.comment} (${vector.result})`, group, vector] as const),
);

describe('Wycheproof JWK vectors against the broker key selection and key policy', () => {
  it('reads the whole suite', () => {
    // Assess
    expect(keyCases.length).toBe(keySuite.numberOfTests);
  });

  it.each(keyCases)('%s', async (_name, group, vector) => {
    // Prepare: symmetric key sets are valid to Wycheproof, but the broker trusts no shared secret
    const symmetric = keysOf(group).every((key) => key.kty === 'oct');

    // Act
    const accepted = await brokerAcceptsWithKeySet(keysOf(group), vector.jws);

    // Assess
    expect(accepted).toBe(vector.result === 'valid' && !symmetric);
  });
});
