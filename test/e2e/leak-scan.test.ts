import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRecords, postCredentials, stack, testToken } from '../support/e2e.ts';

/**
 * Security catalog C-01 / §0 log scanning: after grants, denials and STS errors, neither the broker's log
 * nor the audit table holds a secret key, a session token, a JWT or its signature. The generic patterns
 * also cover every other end-to-end test that ran before this file against the same broker.
 */

const signatureOf = (token: string) => token.split('.')[2] ?? '';
/** Every session token the STS emulator mints starts this way, like real STS tokens. */
const SESSION_TOKEN_PREFIX = 'IQoJb3JpZ2luX2VjE';
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}/;
const SECRET_FIELD_WITH_VALUE =
  /"(SecretAccessKey|secretAccessKey|SessionToken|sessionToken|authorization|Authorization)"\s*:\s*"(?!\[redacted\])[^"]+"/;

async function brokerLogContaining(marker: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const log = readFileSync(stack().brokerLogFile, 'utf8');
    if (log.includes(marker) || Date.now() > deadline) return log;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('no secret reaches the broker log, its metric lines or the audit table', () => {
  it('after a grant, a denial and an STS error', async () => {
    // Prepare
    const grantToken = await testToken();
    const deniedToken = await testToken({ groups: [] });
    const failingToken = await testToken();

    // Act
    const grant = await postCredentials(grantToken, { entitlement: 'test-uploads' });
    const denial = await postCredentials(deniedToken, { entitlement: 'test-uploads' });
    const stsError = await postCredentials(failingToken, { entitlement: 'untrusting-role' });
    const log = await brokerLogContaining(String(stsError.json['requestId']));
    const audit = JSON.stringify(await auditRecords());
    const logDir = dirname(stack().brokerLogFile);
    const otherBrokerLogs = readdirSync(logDir)
      .filter((name) => /^e2e-broker-.+\.log$/.test(name))
      .map((name) => [`${name}`, readFileSync(join(logDir, name), 'utf8')] as const);

    // Assess: the scenario happened
    expect([grant.status, denial.status, stsError.status]).toEqual([200, 403, 500]);
    const secretKey = String(grant.json['SecretAccessKey']);
    const sessionToken = String(grant.json['SessionToken']);
    expect(secretKey.length).toBeGreaterThan(20);
    expect(sessionToken.startsWith(SESSION_TOKEN_PREFIX)).toBe(true);
    expect(log).toContain(String(grant.json['grantId']));
    expect(audit).toContain(String(grant.json['AccessKeyId']));

    // Assess: the metric lines (embedded metric format) were written, for the grant and the denials too
    const metricLines = log.split('\n').filter((line) => line.includes('"_aws"') && line.includes('"CloudWatchMetrics"'));
    expect(metricLines.some((line) => line.includes('"Grants"'))).toBe(true);
    expect(metricLines.some((line) => line.includes('"DenialsByReason"') && line.includes('"no_matching_entitlement"'))).toBe(true);

    // Assess: nothing secret in any sink
    for (const [sink, text] of [
      ['broker log', log],
      ['metric lines', metricLines.join('\n')],
      ['audit table', audit],
      ...otherBrokerLogs,
    ] as const) {
      for (const secret of [secretKey, sessionToken, ...[grantToken, deniedToken, failingToken].map(signatureOf)]) {
        expect(text.includes(secret), `${sink} contains a secret`).toBe(false);
      }
      expect(text.includes(SESSION_TOKEN_PREFIX), `${sink} contains a session token`).toBe(false);
      expect(JWT_PATTERN.test(text), `${sink} contains a JWT`).toBe(false);
      expect(SECRET_FIELD_WITH_VALUE.test(text), `${sink} contains a secret field with a value`).toBe(false);
    }
  });
});
