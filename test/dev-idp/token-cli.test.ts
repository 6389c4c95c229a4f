import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ALICE_SUB, startDevIdp } from '../../infra/local/dev-idp/index.ts';
import type { DevIdp } from '../../infra/local/dev-idp/index.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../infra/local/dev-idp/token.ts', import.meta.url));

function token(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, KEYVEND_DEV_IDP_URL: '', ...env },
    timeout: 20_000,
  });
}

describe('token CLI', () => {
  let idp: DevIdp;

  beforeAll(async () => {
    idp = await startDevIdp();
  });

  afterAll(async () => {
    await idp.close();
  });

  it('prints only an access token for the demo user, read from --idp', async () => {
    // Prepare
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));

    // Act
    const { stdout } = await token(['alice', '--idp', idp.issuer]);

    // Assess
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/u);
    const { payload } = await jwtVerify(stdout.trim(), jwks, {
      issuer: idp.issuer,
      audience: idp.apiAudience,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(payload.sub).toBe(ALICE_SUB);
  });

  it('reads the issuer from KEYVEND_DEV_IDP_URL', async () => {
    // Prepare
    const env = { KEYVEND_DEV_IDP_URL: idp.issuer };

    // Act
    const { stdout } = await token(['bob'], env);

    // Assess
    expect(stdout.trim().split('.')).toHaveLength(3);
  });

  it('fails with a message and no stdout for an unknown user', async () => {
    // Prepare
    const args = ['mallory', '--idp', idp.issuer];

    // Act
    const attempt = token(args);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('no demo user "mallory"') });
  });

  it('fails clearly when no dev IdP answers', async () => {
    // Prepare
    const args = ['alice', '--idp', 'http://127.0.0.1:9'];

    // Act
    const attempt = token(args);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('discovery_failed') });
  });
});
