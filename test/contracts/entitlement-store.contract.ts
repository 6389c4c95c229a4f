import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import type { Principal } from '../../src/domain/principal.ts';
import type { EntitlementStore } from '../../src/ports/index.ts';
import { checkEntitlementsFile, type EntitlementWithGrants } from '../../src/tools/entitlements-file.ts';

/** One entitlements store to run the contract on, holding what the entitlements writer stored. */
export interface EntitlementStoreSubject {
  readonly store: EntitlementStore;
  /** What `keyvend-entitlements apply` does with these entries (without pruning what other tests stored). */
  apply(entries: readonly EntitlementWithGrants[]): Promise<void>;
  /** Replaces the stored definition of an entitlement with `definition`, as a corrupted or hand-edited item would be. */
  corruptDefinition(entitlementId: string, definition: unknown): Promise<void>;
}

export interface EntitlementStoreImplementation {
  make(): Promise<EntitlementStoreSubject> | EntitlementStoreSubject;
}

/**
 * A checked entitlements file: one entitlement per id, granted to `grants` under this test's own issuer id,
 * so tests sharing a table never see each other's grants.
 */
function entitlementsFile(issuerId: string, entitlements: Record<string, readonly string[]>): EntitlementWithGrants[] {
  const text = `entitlements:\n${Object.entries(entitlements)
    .map(
      ([id, grants]) => `  - id: ${id}
    description: Uploads to your own folder
    roleArn: arn:aws:iam::111111111111:role/keyvend/${id}
    outputs: [credentials]
    maxDurationSeconds: 3600
    sessionPolicy:
      Version: '2012-10-17'
      Statement:
        - { Effect: Allow, Action: 's3:PutObject', Resource: 'arn:aws:s3:::uploads/{{userKey}}/*' }
    grants:
${grants.map((grant) => `      - { issuer: ${issuerId}, ${grant} }`).join('\n')}
`,
    )
    .join('')}`;
  const check = checkEntitlementsFile(text);
  if (!check.ok) throw new Error(check.problems.join('\n'));
  return check.entries;
}

/** A fresh issuer id and entitlement ids for one test. */
function scope() {
  const tag = randomBytes(4).toString('hex');
  const issuerId = `t-${tag}`;
  const principal = (subject: string, groups: string[] = []): Principal => ({
    idpType: 'oidc',
    issuerId,
    issuer: `https://${issuerId}.example.com`,
    subject,
    userKey: deriveUserKey(`https://${issuerId}.example.com`, subject),
    groups,
    attributes: {},
    auth: { issuedAt: 1_800_000_000, expiresAt: 1_800_000_600, tokenRef: 'sha256:abc' },
  });
  return { issuerId, id: (name: string) => `${name}-${tag}`, principal };
}

/**
 * The EntitlementStore port's contract (ports/index.ts): an entitlement is found only through a grant to the
 * principal's subject or one of its groups under the principal's issuer id; a stored definition that does not
 * parse fails the request (fail closed) rather than being guessed at; a revocation shows on the next read.
 */
export function entitlementStoreContract(name: string, implementation: EntitlementStoreImplementation): void {
  describe(`EntitlementStore contract: ${name}`, () => {
    it('finds an entitlement granted to the subject, as the writer stored it', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      const entries = entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice'] });
      await apply(entries);

      // Act
      const found = await store.findGranted(principal('alice'), id('uploads'));

      // Assess
      expect(found).toEqual({ ...entries[0]?.entitlement, version: expect.any(Number) });
    });

    it('finds an entitlement granted to one of the principal groups', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'] }));

      // Act
      const found = await store.findGranted(principal('bob', ['staff', 'uploaders']), id('uploads'));

      // Assess
      expect(found?.id).toBe(id('uploads'));
    });

    it('finds nothing for a principal it is not granted to: another subject, other groups, or the same names under another issuer', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      const other = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice', 'group: uploaders'] }));

      // Act
      const found = await Promise.all([
        store.findGranted(principal('mallory', ['staff']), id('uploads')),
        store.findGranted(principal('alice-2', ['uploaders-2']), id('uploads')),
        store.findGranted(other.principal('alice', ['uploaders']), id('uploads')),
      ]);

      // Assess
      expect(found).toEqual([undefined, undefined, undefined]);
    });

    it('finds nothing for an entitlement id it does not hold, even for a principal with grants', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice'] }));

      // Act
      const found = await store.findGranted(principal('alice'), id('no-such-entitlement'));

      // Assess
      expect(found).toBeUndefined();
    });

    it('refuses a granted entitlement whose stored definition does not parse (fail closed), on find and on list', async () => {
      // Prepare
      const { store, apply, corruptDefinition } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice'] }));
      await corruptDefinition(id('uploads'), { id: id('uploads'), roleArn: 'arn:aws:iam::111111111111:role/keyvend/*', version: 2 });

      // Act
      const [found, listed] = await Promise.all([
        store.findGranted(principal('alice'), id('uploads')).catch((error: unknown) => error),
        store.listGranted(principal('alice')).catch((error: unknown) => error),
      ]);

      // Assess
      expect(found).toMatchObject({ code: 'internal_error', httpStatus: 500, reason: 'entitlement_corrupt' });
      expect(listed).toMatchObject({ code: 'internal_error', httpStatus: 500, reason: 'entitlement_corrupt' });
    });

    it('tells which grants reach a principal (its subject, which of its groups), and the entitlement even when none does', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice', 'group: uploaders', 'group: admins'] }));

      // Act
      const [alice, bob, unknown] = await Promise.all([
        store.lookUpGrants(principal('alice', ['staff', 'uploaders']), id('uploads')),
        store.lookUpGrants(principal('bob', ['staff']), id('uploads')),
        store.lookUpGrants(principal('alice', ['uploaders']), id('no-such-entitlement')),
      ]);

      // Assess
      expect(alice.entitlement?.id).toBe(id('uploads'));
      expect(alice.grantedBy).toEqual([{ subject: 'alice' }, { group: 'uploaders' }]);
      expect(bob.entitlement?.id).toBe(id('uploads'));
      expect(bob.grantedBy).toEqual([]);
      expect(unknown).toEqual({ entitlement: undefined, grantedBy: [] });
    });

    it('lists each granted entitlement once, however many grants reach it, and nothing else', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(
        entitlementsFile(issuerId, {
          [id('uploads')]: ['subject: alice', 'group: uploaders', 'group: staff'],
          [id('reports')]: ['group: staff'],
          [id('admin')]: ['group: admins', 'subject: bob'],
        }),
      );

      // Act
      const listed = await store.listGranted(principal('alice', ['uploaders', 'staff']));

      // Assess
      expect(listed.map((entitlement) => entitlement.id).sort()).toEqual([id('reports'), id('uploads')].sort());
    });

    it('lists nothing for a principal without grants', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice'] }));

      // Act
      const listed = await store.listGranted(principal('bob', ['staff']));

      // Assess
      expect(listed).toEqual([]);
    });

    it('sees a revoked grant gone on the very next read, and the grants that remain still there', async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice', 'group: uploaders'] }));
      await expect(store.findGranted(principal('alice'), id('uploads'))).resolves.toBeDefined();

      // Act
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'] }));

      // Assess
      expect(await store.findGranted(principal('alice'), id('uploads'))).toBeUndefined();
      expect(await store.listGranted(principal('alice'))).toEqual([]);
      expect((await store.findGranted(principal('carol', ['uploaders']), id('uploads')))?.id).toBe(id('uploads'));
    });
  });
}
