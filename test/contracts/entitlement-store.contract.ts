import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { newEventId } from '../../src/domain/audit-record.ts';
import type { Revocation, RevocationTarget } from '../../src/domain/revocation.ts';
import { revocationFor as revocationOf } from '../unit/fakes.ts';
import type { EntitlementStore, RevocationStore } from '../../src/ports/index.ts';
import { checkEntitlementsFile, type EntitlementWithGrants } from '../../src/tools/entitlements-file.ts';

/** One entitlements store to run the contract on, holding what the entitlements writer stored. */
export interface EntitlementStoreSubject {
  readonly store: EntitlementStore;
  /** The revocations, in the same table: what they write, the store's next read must see. */
  readonly revocations: RevocationStore;
  /** What `keyvend-entitlements apply` does with these entries (without pruning what other tests stored). */
  apply(entries: readonly EntitlementWithGrants[]): Promise<void>;
  /** Replaces the stored definition of an entitlement with `definition`, as a corrupted or hand-edited item would be. */
  corruptDefinition(entitlementId: string, definition: unknown): Promise<void>;
  /** Replaces a stored revocation with `value`, as a corrupted or hand-edited item would be. */
  corruptRevocation(revocation: Revocation, value: unknown): Promise<void>;
  /** Lets the time pass for which the store may keep an issuer's granted-groups list (ADR 0018); nothing if none kept. */
  passGrantedGroupsBound(): void;
  /** Deletes an issuer's granted-groups list, as in a table an older writer applied (nothing if the store has none). */
  forgetGrantedGroups(issuerId: string): Promise<void>;
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
        store.lookupGrant(principal('alice', ['staff', 'uploaders']), id('uploads')),
        store.lookupGrant(principal('bob', ['staff']), id('uploads')),
        store.lookupGrant(principal('alice', ['uploaders']), id('no-such-entitlement')),
      ]);

      // Assess
      expect(alice.entitlement?.id).toBe(id('uploads'));
      expect(alice.grantedBy).toEqual([{ subject: 'alice' }, { group: 'uploaders' }]);
      expect(bob.entitlement).toBeUndefined();
      expect(bob.definition?.id).toBe(id('uploads'));
      expect(bob.grantedBy).toEqual([]);
      expect(unknown).toEqual({ entitlement: undefined, definition: undefined, grantedBy: [], revoked: undefined, revokedGrantIds: [] });
    });

    it("finds a grant to 2 of a caller's 100 groups through either, naming both, and nothing through the other 98", async () => {
      // Prepare
      const { store, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: g17', 'group: g99'], [id('other')]: ['group: elsewhere'] }));
      const hundred = Array.from({ length: 100 }, (_, i) => `g${i}`);

      const others = hundred.filter((g) => g !== 'g17' && g !== 'g99');
      const ask = () =>
        Promise.all([
          store.lookupGrant(principal('bob', hundred), id('uploads')),
          store.findGranted(principal('carol', ['g99']), id('uploads')),
          store.findGranted(principal('dave', others), id('uploads')),
        ]);

      // Act: twice, the second time once a store that keeps the granted-groups list has had time to read it
      const first = await ask();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const [lookup, viaOne, viaNone] = await ask();

      // Assess
      expect(lookup.grantedBy).toEqual([{ group: 'g17' }, { group: 'g99' }]);
      expect(lookup.entitlement?.id).toBe(id('uploads'));
      expect(viaOne?.id).toBe(id('uploads'));
      expect(viaNone).toBeUndefined();
      expect(first).toEqual([lookup, viaOne, viaNone]);
    });

    it('sees a newly granted group at the latest once the bound has passed, never widens meanwhile, and a removed one at once', async () => {
      // Prepare: the store reads while only g1 is granted; then g2 is granted too
      const { store, apply, passGrantedGroupsBound } = await implementation.make();
      const { issuerId, id, principal } = scope();
      const caller = principal('erin', ['g1', 'g2']);
      await apply(entitlementsFile(issuerId, { [id('first')]: ['group: g1'] }));
      expect((await store.lookupGrant(caller, id('first'))).grantedBy).toEqual([{ group: 'g1' }]);
      await apply(entitlementsFile(issuerId, { [id('second')]: ['group: g2'] }));

      // Act
      const meanwhile = await store.lookupGrant(caller, id('second'));
      passGrantedGroupsBound();
      const after = await store.lookupGrant(caller, id('second'));
      await apply(entitlementsFile(issuerId, { [id('second')]: [] }));
      const removed = await store.lookupGrant(caller, id('second'));

      // Assess: meanwhile either not yet or through g2, never through anything else
      expect([[], [{ group: 'g2' }]]).toContainEqual(meanwhile.grantedBy);
      expect(after.grantedBy).toEqual([{ group: 'g2' }]);
      expect(removed.grantedBy).toEqual([]);
      expect(removed.entitlement).toBeUndefined();
    });

    it('finds group grants in a table without a granted-groups list (applied by an older writer)', async () => {
      // Prepare
      const { store, apply, forgetGrantedGroups } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'] }));
      await forgetGrantedGroups(issuerId);

      // Act
      const found = await store.findGranted(principal('frank', ['staff', 'uploaders']), id('uploads'));

      // Assess
      expect(found?.id).toBe(id('uploads'));
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
    it('reads a revoked person with the grant: found, marked revoked, refused by findGranted; un-revoking restores', async () => {
      // Prepare
      const { store, revocations, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'] }));
      const alice = principal('alice', ['uploaders']);
      const revocation = revocationOf({ kind: 'person', issuerId, subject: 'alice', userKey: alice.userKey });

      // Act
      const added = await revocations.add(revocation);
      const [lookup, found, bobFound] = await Promise.all([
        store.lookupGrant(alice, id('uploads')),
        store.findGranted(alice, id('uploads')),
        store.findGranted(principal('bob', ['uploaders']), id('uploads')),
      ]);
      const removed = await revocations.remove(revocation.id);
      const afterUnrevoke = await store.lookupGrant(alice, id('uploads'));

      // Assess
      expect(added).toEqual({ revocation, created: true });
      expect(lookup.entitlement?.id).toBe(id('uploads'));
      expect(lookup.revoked).toEqual({ kind: 'person', revocationId: revocation.id });
      expect(found).toBeUndefined();
      expect(bobFound?.id).toBe(id('uploads'));
      expect(removed).toEqual(revocation);
      expect(afterUnrevoke).toMatchObject({ entitlement: lookup.entitlement, revoked: undefined, revokedGrantIds: [] });
    });

    it('reads a revoked entitlement for every grantee, and only that entitlement', async () => {
      // Prepare
      const { store, revocations, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'], [id('reports')]: ['group: uploaders'] }));
      const revocation = revocationOf({ kind: 'entitlement', entitlementId: id('uploads') });

      // Act
      await revocations.add(revocation);
      const [uploads, reports] = await Promise.all([
        store.lookupGrant(principal('dave', ['uploaders']), id('uploads')),
        store.lookupGrant(principal('dave', ['uploaders']), id('reports')),
      ]);
      await revocations.remove(revocation.id);

      // Assess
      expect(uploads.revoked).toEqual({ kind: 'entitlement', revocationId: revocation.id });
      expect(reports.revoked).toBeUndefined();
      expect(reports.entitlement?.id).toBe(id('reports'));
    });

    it('shows a revoked grant id to its own person on any entitlement read, without refusing a new grant, and to nobody else', async () => {
      // Prepare
      const { store, revocations, apply } = await implementation.make();
      const { issuerId, id, principal } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['group: uploaders'] }));
      const alice = principal('alice', ['uploaders']);
      const grantId = newEventId(new Date(), randomBytes(10));
      const other = newEventId(new Date(), randomBytes(10));
      const target = (g: string): RevocationTarget => ({
        kind: 'grant',
        grantId: g,
        issuerId,
        subject: 'alice',
        userKey: alice.userKey,
        entitlementId: id('uploads'),
      });
      const first = revocationOf(target(grantId));
      const second = revocationOf(target(other));

      // Act
      await revocations.add(first);
      await revocations.add(second);
      const [own, bob] = await Promise.all([
        store.lookupGrant(alice, id('no-such-entitlement')),
        store.lookupGrant(principal('bob', ['uploaders']), id('uploads')),
      ]);
      const found = await store.findGranted(alice, id('uploads'));
      await revocations.remove(first.id);
      const afterOne = await store.lookupGrant(alice, id('uploads'));
      await revocations.remove(second.id);

      // Assess
      expect(own).toMatchObject({ entitlement: undefined, grantedBy: [], revoked: undefined, revokedGrantIds: [grantId, other].sort() });
      expect(bob.revokedGrantIds).toEqual([]);
      expect(found?.id).toBe(id('uploads'));
      expect(afterOne.revokedGrantIds).toEqual([other]);
    });

    it('keeps one revocation per target: a second one writes nothing and answers the one in force', async () => {
      // Prepare
      const { revocations } = await implementation.make();
      const { issuerId } = scope();
      const userKey = randomBytes(13).toString('hex').toUpperCase();
      const target: RevocationTarget = { kind: 'person', issuerId, subject: 'erin', userKey };
      const first = revocationOf(target);
      await revocations.add(first);
      const generation = await revocations.generation();

      // Act
      const again = await revocations.add(revocationOf(target));

      // Assess
      expect(again).toEqual({ revocation: first, created: false });
      expect(await revocations.generation()).toBe(generation);
      const inForce = (await revocations.state()).revocations;
      expect(inForce.filter((r) => r.target.kind === 'person' && r.target.userKey === userKey)).toEqual([first]);
      await revocations.remove(first.id);
    });

    it('counts every change in the generation, lists what is in force, and removes only what exists', async () => {
      // Prepare
      const { revocations } = await implementation.make();
      const { id } = scope();
      const revocation = revocationOf({ kind: 'entitlement', entitlementId: id('gen') });
      const before = await revocations.generation();

      // Act
      await revocations.add(revocation);
      const afterAdd = await revocations.state();
      const removed = await revocations.remove(revocation.id);
      const removedAgain = await revocations.remove(revocation.id);
      const afterRemove = await revocations.state();

      // Assess
      expect(afterAdd.generation).toBe(before + 1);
      expect(afterAdd.revocations).toContainEqual(revocation);
      expect(await revocations.get(revocation.id)).toBeUndefined();
      expect(removed).toEqual(revocation);
      expect(removedAgain).toBeUndefined();
      expect(afterRemove.generation).toBe(before + 2);
      expect(afterRemove.revocations.map((r) => r.id)).not.toContain(revocation.id);
    });

    it('moves the enforced generation only forward', async () => {
      // Prepare
      const { revocations } = await implementation.make();
      const start = (await revocations.state()).enforcedGeneration;

      // Act
      await revocations.markEnforced(start + 5);
      await revocations.markEnforced(start + 3);

      // Assess
      expect((await revocations.state()).enforcedGeneration).toBe(start + 5);
    });

    it('tells whether a subject holds grants of its own (not through a group), and whether an entitlement is defined', async () => {
      // Prepare
      const { revocations, apply } = await implementation.make();
      const { issuerId, id } = scope();
      await apply(entitlementsFile(issuerId, { [id('uploads')]: ['subject: alice', 'group: uploaders'] }));

      // Act
      const answers = await Promise.all([
        revocations.hasSubjectGrants(issuerId, 'alice'),
        revocations.hasSubjectGrants(issuerId, 'bob'),
        revocations.hasSubjectGrants(`${issuerId}-x`, 'alice'),
      ]);

      // Assess
      expect(answers).toEqual([true, false, false]);
      expect(await revocations.entitlementExists(id('uploads'))).toBe(true);
      expect(await revocations.entitlementExists(id('nothing'))).toBe(false);
    });

    it('fails closed on a stored revocation that does not parse', async () => {
      // Prepare
      const { revocations, corruptRevocation } = await implementation.make();
      const { id } = scope();
      const revocation = revocationOf({ kind: 'entitlement', entitlementId: id('corrupt') });
      await revocations.add(revocation);

      // Act
      await corruptRevocation(revocation, { ...revocation, revokedAt: 'yesterday' });
      const read = await revocations.get(revocation.id).catch((error: unknown) => error);

      // Assess
      expect(read).toMatchObject({ code: 'internal_error', reason: 'revocation_corrupt' });
      await corruptRevocation(revocation, revocation);
      await revocations.remove(revocation.id);
    });
  });
}
