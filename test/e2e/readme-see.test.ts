import { describe, expect, it } from 'vitest';
import { isolatedEnv } from '../support/cli-harness.ts';
import { devIdpToken, postCredentials, stack } from '../support/e2e.ts';
import { bash, jsonDocuments, readmeShBlocks } from '../support/readme.ts';

/** The README section this test runs, word for word (test/e2e/readme-runs.test.ts accounts for it by this name). */
const SEE_SECTION = 'See what you may get, and who got what';

describe('the README "See what you may get, and who got what" block, run as written', () => {
  it("explains alice's photo-uploads, lists her live grants, tells carol why bob lacks console-readonly, and pages the audit trail", async () => {
    // Prepare
    const blocks = readmeShBlocks().filter((b) => b.section === SEE_SECTION);
    expect(blocks).toHaveLength(1);
    const script = (blocks[0]?.text ?? '').replaceAll('http://127.0.0.1:3000', stack().apiUrl);
    expect(script).toContain(stack().apiUrl);
    const env = isolatedEnv({ KEYVEND_DEV_IDP_URL: stack().idpIssuer });
    const alice = await devIdpToken('alice');
    const grant = await postCredentials(alice, { entitlement: 'photo-uploads' });

    // Act
    const ran = await bash(script, env);

    // Assess
    expect(ran.code, ran.stderr).toBe(0);
    const [explained, mine, bob, audit] = jsonDocuments(ran.stdout) as Record<string, any>[];
    expect(explained).toMatchObject({ entitled: true, grantedBy: [{ group: 'photo-uploaders' }] });
    expect(mine?.['grants'].map((g: Record<string, unknown>) => g['grantId'])).toContain(grant.json['grantId']);
    expect(bob).toMatchObject({ entitled: false, reason: 'no_grant' });
    expect(audit?.['records'].length).toBeGreaterThan(0);
    for (const record of audit?.['records'] ?? [])
      expect(record).toMatchObject({ outcome: 'granted', entitlement: { id: 'photo-uploads' } });
  });
});
