import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dependencyOf, PowertoolsDecisionLog } from '../../src/adapters/logging/powertools-decision-log.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';

/** The EMF lines the adapter writes to stdout, parsed, while `act` runs. */
function emfLinesOf(act: () => void): Record<string, any>[] {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** Metric name → its dimension values (beyond `service`), per EMF line. */
const metricsIn = (lines: Record<string, any>[]) =>
  lines.flatMap((line) =>
    (line['_aws']['CloudWatchMetrics'][0]['Metrics'] as { Name: string }[]).map((m) => {
      const dims = (line['_aws']['CloudWatchMetrics'][0]['Dimensions'][0] as string[]).filter((d) => d !== 'service');
      return dims.length === 0 ? m.Name : `${m.Name}{${dims.map((d) => `${d}=${line[d]}`).join(',')}}`;
    }),
  );

const caller = {
  idpType: 'oidc',
  issuerId: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'alice-0001',
  userKey: 'abcdefghijklmnopqrstuvwxyz',
  groups: ['uploaders'],
  tokenIssuedAt: 1,
  tokenExpiresAt: 2,
  tokenRef: 'sha256:abc',
} as const;
const record = (overrides: Partial<AuditRecord>, withCaller = true): AuditRecord => ({
  eventId: '019ad0f0-0000-7000-8000-000000000000',
  time: '2026-11-29T10:00:00.000Z',
  action: 'credentials',
  outcome: 'denied',
  request: { requestId: 'req-1', sourceIp: '203.0.113.9' },
  ...(withCaller ? { caller } : {}),
  ...overrides,
});

describe('PowertoolsDecisionLog: metrics in embedded metric format', () => {
  let log: PowertoolsDecisionLog;

  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_DEV', '');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    log = new PowertoolsDecisionLog(new Logger({ serviceName: 'keyvend' }), new Metrics({ namespace: 'Keyvend', serviceName: 'keyvend' }));
  });
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    ['a grant', record({ outcome: 'granted', session: { accessKeyId: 'ASIAEXAMPLE' } }), ['Grants']],
    [
      'a denial of a caller',
      record({ reason: 'no_matching_entitlement', errorCode: 'not_entitled' }),
      ['DenialsByReason{reason=no_matching_entitlement}', 'Denials'],
    ],
    [
      'a rate-limit refusal',
      record({ reason: 'rate_limited', errorCode: 'throttled' }),
      ['DenialsByReason{reason=rate_limited}', 'Denials', 'RateLimited'],
    ],
    [
      'a refusal without a caller',
      record({ reason: 'bad_signature', errorCode: 'invalid_token' }, false),
      ['DenialsByReason{reason=bad_signature}', 'Denials', 'AnonymousRefusals'],
    ],
    [
      'an upstream failure',
      record({ reason: 'sts_throttled', errorCode: 'upstream_unavailable' }),
      ['DenialsByReason{reason=sts_throttled}', 'UpstreamFailuresByDependency{dependency=sts}', 'Denials', 'UpstreamFailures'],
    ],
    [
      'a pending record that could not be written',
      record({ reason: 'audit_unavailable', errorCode: 'upstream_unavailable' }),
      [
        'DenialsByReason{reason=audit_unavailable}',
        'UpstreamFailuresByDependency{dependency=dynamodb_audit}',
        'Denials',
        'UpstreamFailures',
        'AuditWriteFailures',
      ],
    ],
    ['a sign-out', record({ outcome: 'granted', action: 'portal_logout', reason: 'signed_out' }), []],
  ])('counts %s', (_name, decided, expected) => {
    // Act
    const lines = emfLinesOf(() => log.decision(decided));

    // Assess
    expect(metricsIn(lines)).toEqual(expected);
    for (const line of lines) {
      expect(line['_aws']['CloudWatchMetrics'][0]['Namespace']).toBe('Keyvend');
      expect(line['service']).toBe('keyvend');
    }
  });

  it.each([
    ['minted_not_delivered', 'audit_write_failed', ['MintedNotDelivered', 'AuditWriteFailures']],
    ['minted_not_delivered', 'signin_endpoint_unreachable', ['MintedNotDelivered']],
    ['audit_write_failed_on_denial', 'no_matching_entitlement', ['AuditWriteFailures']],
    ['audit_write_failed_on_logout', 'signed_out', ['AuditWriteFailures']],
  ])('counts the alarm %s (%s)', (event, reason, expected) => {
    // Act
    const lines = emfLinesOf(() => log.alarm(event, record({ outcome: 'minted_not_delivered', reason }), new Error('x')));

    // Assess
    expect(metricsIn(lines)).toEqual(expected);
  });

  it('publishes at once, and names no caller, key, address or request in a metric line', () => {
    // Act
    const lines = emfLinesOf(() => {
      log.decision(record({ outcome: 'granted', session: { accessKeyId: 'ASIAEXAMPLE', roleSessionName: 'kv.alice' } }));
      log.decision(record({ reason: 'rate_limited', errorCode: 'throttled' }));
    });

    // Assess
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const text = JSON.stringify(lines);
    for (const value of ['alice-0001', 'abcdefghijklmnopqrstuvwxyz', 'ASIAEXAMPLE', '203.0.113.9', 'req-1', 'sha256:abc', 'kv.alice']) {
      expect(text).not.toContain(value);
    }
  });

  it('names the dependency of each upstream reason', () => {
    // Assess
    expect(
      ['jwks_unavailable', 'token_endpoint_unreachable', 'entitlements_unavailable', 'saml_replay_cache_unavailable', 'kms_throttled'].map(
        dependencyOf,
      ),
    ).toEqual(['identity_provider', 'identity_provider', 'dynamodb_entitlements', 'dynamodb_saml_replay', 'kms']);
    expect(
      ['federation_keys_unavailable', 'portal_secret_unavailable', 'signin_token_malformed', 'something_new'].map(dependencyOf),
    ).toEqual(['secrets_manager', 'secrets_manager', 'federation_endpoint', 'other']);
  });
});
