import { beforeAll, describe, expect, it } from 'vitest';
import { ALICE_SUB, BOB_SUB } from '../../infra/local/dev-idp/demo-users.ts';
import { isolatedEnv, runInProcess, storeLogin } from '../support/cli-harness.ts';
import { devIdpToken, postCredentials, stack } from '../support/e2e.ts';

/** A CLI environment logged in as a demo user of the dev IdP, against the local stack. */
async function loggedInAs(username: 'alice' | 'carol'): Promise<{ env: Record<string, string>; token: string }> {
  const token = await devIdpToken(username);
  const env = isolatedEnv({ KEYVEND_URL: stack().apiUrl, KEYVEND_ISSUER: stack().idpIssuer });
  storeLogin(env, { issuer: stack().idpIssuer, tokenEndpoint: `${stack().idpIssuer}/token`, accessToken: token });
  return { env, token };
}

describe('keyvend explain and keyvend audit against the local stack', () => {
  let alice: Awaited<ReturnType<typeof loggedInAs>>;
  let carol: Awaited<ReturnType<typeof loggedInAs>>;

  beforeAll(async () => {
    [alice, carol] = await Promise.all([loggedInAs('alice'), loggedInAs('carol')]);
  });

  it('explains an entitlement in words, and as the broker answered with --json', async () => {
    // Act
    const [words, json] = await Promise.all([
      runInProcess(['explain', 'photo-uploads'], alice.env),
      runInProcess(['explain', 'photo-uploads', '--json'], alice.env),
    ]);

    // Assess
    expect(words.code).toBe(0);
    expect(words.stdout).toContain('is entitled to photo-uploads');
    expect(words.stdout).toContain('Granted by:      group photo-uploaders');
    expect(words.stdout).toMatch(/Vending path: +keyvend-issuer/);
    expect(words.stdout).toContain('"Resource": "arn:aws:s3:::keyvend-demo-uploads/');
    expect(JSON.parse(json.stdout)).toMatchObject({
      entitled: true,
      session: { roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads' },
    });
  });

  it('tells an admin why bob is not entitled, with exit code 4', async () => {
    // Act
    const run = await runInProcess(
      ['explain', 'console-readonly', '--output', 'console', '--idp', 'dev', '--subject', BOB_SUB, '--group', 'photo-uploaders'],
      carol.env,
    );

    // Assess
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(`${BOB_SUB} (dev, user key`);
    expect(run.stdout).toContain('is NOT entitled to console-readonly (console): no_grant');
  });

  it("lists alice's grants for an admin as a table and as JSON, pages with --page-token and --all, and refuses alice", async () => {
    // Prepare
    for (let i = 0; i < 3; i++) expect((await postCredentials(alice.token, { entitlement: 'photo-uploads' })).status).toBe(200);
    const filters = ['--idp', 'dev', '--subject', ALICE_SUB, '--entitlement', 'photo-uploads', '--outcome', 'granted'];

    // Act
    const tableRun = await runInProcess(['audit', ...filters, '--limit', '2'], carol.env);
    const token = /--page-token (\S+)/.exec(tableRun.stderr)?.[1] ?? '';
    const nextPage = await runInProcess(['audit', ...filters, '--limit', '2', '--page-token', token, '--json'], carol.env);
    const everything = await runInProcess(['audit', ...filters, '--limit', '2', '--all', '--json'], carol.env);
    const refused = await runInProcess(['audit'], alice.env);

    // Assess
    expect(tableRun.code).toBe(0);
    expect(tableRun.stdout.split('\n')[0]).toMatch(/^TIME +ACTION +OUTCOME +PERSON +ENTITLEMENT +SESSION +ACCESS KEY$/);
    expect(tableRun.stdout.split('\n').filter((line) => line.includes(`dev/${ALICE_SUB}`))).toHaveLength(2);
    const all = JSON.parse(everything.stdout) as { records: { eventId: string }[]; nextPageToken?: string };
    expect(all.records.length).toBeGreaterThanOrEqual(3);
    expect(all.nextPageToken).toBeUndefined();
    const second = JSON.parse(nextPage.stdout) as { records: { eventId: string }[] };
    expect(second.records.map((r) => r.eventId)).toEqual(all.records.slice(2, 4).map((r) => r.eventId));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/forbidden/);
  });
});
