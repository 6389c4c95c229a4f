import { UpstreamUnavailableError } from '../../src/domain/errors.ts';
import type { AuditLog } from '../../src/ports/index.ts';
import { FakeAuditLog, FakeEntitlementStore, FakeReplayCache, FakeTokenSigner } from '../unit/fakes.ts';
import { anonymousRefusalsContract } from './anonymous-refusals.contract.ts';
import { auditLogContract } from './audit-log.contract.ts';
import { entitlementStoreContract } from './entitlement-store.contract.ts';
import { replayCacheContract } from './replay-cache.contract.ts';
import { tokenSignerContract } from './token-signer.contract.ts';

/** The in-memory fakes the unit tests use, held to the same port contracts as the real adapters. */

auditLogContract('FakeAuditLog', {
  make: () => {
    const fake = new FakeAuditLog();
    return { log: fake, stored: async (eventId) => fake.stored(eventId), loseNextResponse: () => fake.loseNextResponse() };
  },
  broken: (): AuditLog => {
    const fake = new FakeAuditLog();
    fake.failOn.add('record');
    return fake;
  },
});

anonymousRefusalsContract('FakeAuditLog', {
  make: () => {
    const fake = new FakeAuditLog();
    return { log: fake, aggregate: async (eventId) => fake.aggregate(eventId) };
  },
  broken: () => {
    const fake = new FakeAuditLog();
    fake.failOn.add('countAnonymous');
    return fake;
  },
});

replayCacheContract('FakeReplayCache', {
  make: () => {
    const fake = new FakeReplayCache();
    return { cache: fake, sweepExpired: async (now) => fake.sweepExpired(now) };
  },
  broken: () => {
    const fake = new FakeReplayCache();
    fake.failure = new Error('replay table unavailable');
    return fake;
  },
});

entitlementStoreContract('FakeEntitlementStore', {
  make: () => {
    const fake = new FakeEntitlementStore([]);
    return {
      store: fake,
      revocations: fake,
      apply: async (entries) => fake.apply(entries),
      corruptDefinition: async (entitlementId, definition) => fake.storeDefinition(entitlementId, definition),
      corruptRevocation: async (revocation, value) => fake.storeRevocation(revocation.id, value),
      // The fake reads its grants, not a list: it asks for every group, as the adapter does without a list.
      passGrantedGroupsBound: () => undefined,
      forgetGrantedGroups: async () => undefined,
    };
  },
});

tokenSignerContract('FakeTokenSigner', {
  make: () => {
    const fake = new FakeTokenSigner();
    return { signer: fake, keys: fake };
  },
  unavailable: () => {
    const fake = new FakeTokenSigner();
    fake.failure = new UpstreamUnavailableError('kms_unavailable');
    return fake;
  },
});
