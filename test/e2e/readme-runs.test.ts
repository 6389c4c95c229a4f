import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { startDevSamlIdp } from '../../infra/local/saml-idp.ts';
import { LOCAL_TABLES, ROOT, startBroker } from '../../infra/local/stack.ts';
import { definitionKey, grantPartitionKey, grantSortKey } from '../../src/adapters/dynamodb/keys.ts';
import { isolatedEnv } from '../support/cli-harness.ts';
import { dynamo, stack } from '../support/e2e.ts';
import { bash, jsonDocuments, type ReadmeBlock, readmeShBlocks, workingCopy } from '../support/readme.ts';

/**
 * The README's ```sh blocks, word for word, in bash. Only the addresses change: `npm start`'s default ports become
 * the shared e2e stack's (the dev IdP's through KEYVEND_DEV_IDP_URL, which `npm run token` reads, and the stack's
 * state file through KEYVEND_LOCAL_STATE, which `apply --local` reads). Each block is run, or run by another test,
 * or listed below with the reason it is not, so a new block cannot go untested silently.
 */
const NOT_RUN: { startsWith: string; reason: string }[] = [
  {
    startsWith: 'npm install && npm start',
    reason: '`npm start` on the fixed ports, and the whole suite: test/e2e/npm-start.test.ts starts npm start on free ports',
  },
  {
    startsWith: "KEYVEND_LOCAL_ISSUERS='[",
    reason: 'npm start against a real identity provider (https://idp.example.com), which CI does not have',
  },
];
/** Run by test/e2e/readme-cli.test.ts, word for word. */
const RUN_BY_README_CLI_TEST = 'Using the CLI';
/** Run by test/e2e/readme-see.test.ts, word for word. */
const RUN_BY_README_SEE_TEST = 'See what you may get, and who got what';
/** Run here (the first line of each block). */
const TRY_IT = 'TOKEN=$(npm run -s token -- alice)';
const PORTAL = 'curl -s -X POST -H "Authorization: Bearer $TOKEN"';
const OWN_ENTITLEMENTS = 'cp examples/my-entitlements.yaml my-entitlements.yaml\n';
const SAML = 'SAML=$(curl -s -d username=alice';
const ENTITLEMENTS = 'cp examples/my-entitlements.yaml my-entitlements.yaml      #';
const REVOKE = 'ALICE=$(npm run -s token -- alice)';
/** The one line of the Entitlements block that is not run: it targets a table in AWS. */
const AWS_ONLY_LINE = 'npm run entitlements -- apply my-entitlements.yaml --table keyvend-prod-entitlements [--prune]';

/** The one block that starts with `start` (under `section`, when given). */
function block(blocks: ReadmeBlock[], start: string, section?: string): string {
  const found = blocks.filter((b) => b.text.startsWith(start) && (section === undefined || b.section === section));
  expect(found, `one README block starting ${JSON.stringify(start)}`).toHaveLength(1);
  return found[0]?.text ?? '';
}

function withAddresses(text: string, addresses: [string, string][]): string {
  for (const [written] of addresses) expect(text).toContain(written);
  return addresses.reduce((script, [written, actual]) => script.replaceAll(written, actual), text);
}

const CREDENTIALS = { Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/u), entitlement: 'photo-uploads' };

describe('the README sh blocks, run as written', () => {
  it('runs every block, or names the test that does, or says why it cannot', () => {
    // Prepare
    const blocks = readmeShBlocks();
    const runHere = [
      block(blocks, TRY_IT),
      block(blocks, PORTAL),
      block(blocks, OWN_ENTITLEMENTS),
      block(blocks, SAML),
      block(blocks, ENTITLEMENTS),
      block(blocks, REVOKE, 'Revoking access'),
    ];

    // Act
    const accounted = blocks.map(
      (b) =>
        runHere.includes(b.text) ||
        b.section === RUN_BY_README_CLI_TEST ||
        b.section === RUN_BY_README_SEE_TEST ||
        NOT_RUN.some((listed) => b.text.startsWith(listed.startsWith)),
    );

    // Assess
    expect(blocks.filter((_, index) => !accounted[index])).toEqual([]);
    for (const listed of NOT_RUN) block(blocks, listed.startsWith);
    expect(blocks.filter((b) => b.section === RUN_BY_README_CLI_TEST)).toHaveLength(3);
  });

  it('"Revoking access": carol revokes alice, her live session is denied, her next request refused; un-revoked after', async () => {
    // Prepare
    const addresses: [string, string][] = [
      ['http://127.0.0.1:3000', stack().apiUrl],
      ['http://127.0.0.1:4020', stack().stsUrl],
    ];
    const script = withAddresses(block(readmeShBlocks(), REVOKE, 'Revoking access'), addresses);
    const env = isolatedEnv({ KEYVEND_DEV_IDP_URL: stack().idpIssuer });

    // Act
    const ran = await bash(script, env);

    // Assess
    expect(ran.code, ran.stderr).toBe(0);
    const [allowed, revoked, denied, refused, lifted] = jsonDocuments(ran.stdout) as Record<string, any>[];
    expect(allowed).toMatchObject({ decision: 'Allowed' });
    expect(revoked).toMatchObject({ created: true, revocation: { reason: 'laptop stolen' }, liveSessions: { mode: 'per-session' } });
    expect(denied).toMatchObject({ decision: 'ExplicitlyDenied' });
    expect(refused).toMatchObject({ error: 'not_entitled' });
    expect(lifted).toMatchObject({ revocation: { id: revoked?.['revocation']?.['id'] } });
  });

  it('"Try it" and "The portal": a token for alice, her entitlements, credentials and a console URL', async () => {
    // Prepare: the reader's one terminal, so $TOKEN carries from the first block to the second
    const blocks = readmeShBlocks();
    const addresses: [string, string][] = [['http://127.0.0.1:3000', stack().apiUrl]];
    const tryIt = withAddresses(block(blocks, TRY_IT), addresses);
    const portal = withAddresses(block(blocks, PORTAL), addresses);
    const env = isolatedEnv({ KEYVEND_DEV_IDP_URL: stack().idpIssuer });

    // Act
    const ran = await bash(`${tryIt}\necho\n${portal}`, env);

    // Assess
    expect(ran.code, ran.stderr).toBe(0);
    const [entitlements, credentials, signIn] = jsonDocuments(ran.stdout) as Record<string, any>[];
    const listed = ((entitlements?.['entitlements'] ?? []) as { id: string }[]).map((e) => e.id);
    expect(listed).toEqual(expect.arrayContaining(['photo-uploads', 'console-readonly']));
    expect(credentials).toMatchObject({ ...CREDENTIALS, durationSeconds: 900 });
    expect(credentials?.['SecretAccessKey']).toEqual(expect.any(String));
    expect(credentials?.['SessionToken']).toEqual(expect.any(String));
    const url = new URL(String(signIn?.['url']));
    expect(`${url.origin}${url.pathname}`).toBe(`${stack().stsUrl}/federation`);
    expect(url.searchParams.get('Action')).toBe('login');
    expect(signIn).toMatchObject({ entitlement: 'console-readonly', expiresAt: expect.any(String) });
  });

  it('"SAML callers": alice signs in at the dev SAML IdP and posts the response for credentials', async () => {
    // Prepare: `npm start` runs a dev SAML IdP and a broker that trusts it; the shared e2e stack has neither, so
    // the test starts both as infra/local/start.ts and stack.ts do, the broker beside the shared one (same tables,
    // STS and KMS, its own port). npm start's seed grants photo-uploads to the dev SAML IdP's photo-uploaders;
    // the shared stack's fixtures do not, so that one grant row is added for this test.
    expect(readFileSync(join(ROOT, 'infra/local/entitlements.yaml'), 'utf8')).toContain('{ issuer: dev-saml, group: photo-uploaders }');
    const blocks = readmeShBlocks();
    const httpPort = await freePort();
    const acsUrl = `http://127.0.0.1:${httpPort}/v1/credentials`;
    const samlIdp = await startDevSamlIdp({ port: await freePort(), acsUrl, audience: 'urn:keyvend:local' });
    const closers: Array<() => Promise<void>> = [];
    const TableName = stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'];
    const grant = { pk: grantPartitionKey({ issuer: 'dev-saml', group: 'photo-uploaders' }), sk: grantSortKey('photo-uploads') };
    try {
      const apiUrl = await startBroker(
        {
          ...stack().brokerEnv,
          KEYVEND_SAML_IDPS: JSON.stringify([samlIdp.settings]),
          KEYVEND_SAML_AUDIENCE: 'urn:keyvend:local',
          KEYVEND_SAML_ACS_URL: acsUrl,
          KEYVEND_SAML_REPLAY_TABLE: LOCAL_TABLES.samlReplay,
        },
        { httpPort, logFile: join(ROOT, 'test-output/e2e-broker-readme-saml.log'), closers },
      );
      await dynamo().send(new PutCommand({ TableName, Item: grant }));
      const script = withAddresses(block(blocks, SAML), [
        ['http://127.0.0.1:4030', samlIdp.url],
        ['http://127.0.0.1:3000', apiUrl],
      ]);

      // Act
      const ran = await bash(script, isolatedEnv());

      // Assess
      expect(ran.code, ran.stderr).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject(CREDENTIALS);
    } finally {
      await dynamo().send(new DeleteCommand({ TableName, Key: grant }));
      for (const close of closers.reverse()) await close();
      await samlIdp.close();
    }
  });

  it('"Your own entitlements" and "Entitlements": copy the example, validate it, apply it to the running stack', async () => {
    // Prepare: a copy of the working directory, as the blocks write my-entitlements.yaml where they run
    const blocks = readmeShBlocks();
    const own = block(blocks, OWN_ENTITLEMENTS);
    const section = block(blocks, ENTITLEMENTS);
    // Not run: it writes to the entitlements table of a deployment in AWS, which CI does not have.
    expect(section.split('\n').filter((line) => line.startsWith(AWS_ONLY_LINE))).toHaveLength(1);
    const local = section
      .split('\n')
      .filter((line) => !line.startsWith(AWS_ONLY_LINE))
      .join('\n');
    const copy = workingCopy();
    const env = isolatedEnv({ KEYVEND_LOCAL_STATE: stack().stateFile });
    const inRepository = join(ROOT, 'my-entitlements.yaml');
    const repositoryHadOne = existsSync(inRepository);

    try {
      // Act
      const first = await bash(own, env, copy);
      const second = await bash(local, env, copy);

      // Assess
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^ok {2}my-uploads: /mu);
      expect(first.stdout).toMatch(
        /^applied to keyvend-local-entitlements \(the local stack, DynamoDB at http:\/\/127\.0\.0\.1:\d+\): 1 written, 0 unchanged, 1 grant\(s\) added, 0 revoked/mu,
      );
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/^ok {2}my-uploads: /mu);
      expect(second.stdout).toMatch(/: 0 written, 1 unchanged, 0 grant\(s\) added, 0 revoked/u);
      expect(existsSync(join(copy, 'my-entitlements.yaml'))).toBe(true);
      expect(existsSync(inRepository)).toBe(repositoryHadOne);
    } finally {
      // The other tests list alice's entitlements: leave the table as the fixtures made it.
      const TableName = stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'];
      await dynamo().send(
        new DeleteCommand({
          TableName,
          Key: { pk: grantPartitionKey({ issuer: 'dev', group: 'photo-uploaders' }), sk: grantSortKey('my-uploads') },
        }),
      );
      await dynamo().send(new DeleteCommand({ TableName, Key: definitionKey('my-uploads') }));
      rmSync(dirname(copy), { recursive: true, force: true });
    }
  });
});
