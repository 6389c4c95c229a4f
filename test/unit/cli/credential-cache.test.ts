import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cachePath, obtainCredentials } from '../../../src/cli/credential-cache.ts';
import { ROOT } from '../../../infra/local/stack.ts';
import { contextFor, fakeAccessToken, isolatedEnv, startFakeBroker, storeLogin, type FakeBroker } from '../../support/cli-harness.ts';

const ISSUER = 'https://idp.example.com';

describe('the credential cache', () => {
  let broker: FakeBroker;
  let env: Record<string, string>;
  const request = (overrides: { minRemainingMs?: number; entitlement?: string } = {}) => ({
    brokerUrl: broker.url,
    issuer: ISSUER,
    entitlement: overrides.entitlement ?? 'photo-uploads',
    minRemainingMs: overrides.minRemainingMs ?? 5 * 60_000,
  });
  const brokerGrants = () => broker.calls.filter((call) => call.path === '/v1/credentials').length;

  beforeAll(async () => {
    broker = await startFakeBroker({ lifetimeSeconds: 900 });
  });
  afterAll(async () => {
    await broker.close();
  });
  beforeEach(() => {
    broker.calls.length = 0;
    env = isolatedEnv();
    storeLogin(env, {
      issuer: ISSUER,
      tokenEndpoint: `${broker.url}/token`,
      accessToken: fakeAccessToken('user-1', 4_000_000_000),
      subject: 'user-1',
      accessTokenExpiresAt: Date.now() + 3_600_000,
    });
  });

  it('serves the second call from a file only the user can read, without asking the broker again', async () => {
    // Act
    const first = await obtainCredentials(contextFor(env), request());
    const second = await obtainCredentials(contextFor(env), request());

    // Assess
    expect(first.source).toBe('broker');
    expect(second).toEqual({ source: 'cache', credentials: first.credentials });
    expect(brokerGrants()).toBe(1);
    const path = cachePath(contextFor(env), { brokerUrl: broker.url, issuer: ISSUER, subject: 'user-1', entitlement: 'photo-uploads' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(path, '..')).filter((name) => name.includes('.tmp') || name.endsWith('.lock'))).toEqual([]);
  });

  it('fetches new credentials when the cached ones have less than the minimum left', async () => {
    // Prepare
    const first = await obtainCredentials(contextFor(env), request());
    const elevenMinutesLater = () => Date.now() + 11 * 60_000;

    // Act
    const stillFresh = await obtainCredentials(contextFor(env, elevenMinutesLater), request({ minRemainingMs: 3 * 60_000 }));
    const nearExpiry = await obtainCredentials(contextFor(env, elevenMinutesLater), request({ minRemainingMs: 5 * 60_000 }));

    // Assess
    expect(stillFresh.credentials.AccessKeyId).toBe(first.credentials.AccessKeyId);
    expect(nearExpiry.source).toBe('broker');
    expect(nearExpiry.credentials.AccessKeyId).not.toBe(first.credentials.AccessKeyId);
    expect(brokerGrants()).toBe(2);
  });

  it('ignores and replaces a corrupted or foreign cache file instead of trusting it', async () => {
    // Prepare
    const first = await obtainCredentials(contextFor(env), request());
    const path = cachePath(contextFor(env), { brokerUrl: broker.url, issuer: ISSUER, subject: 'user-1', entitlement: 'photo-uploads' });
    const valid = readFileSync(path, 'utf8');

    // Act
    writeFileSync(path, valid.slice(0, valid.length / 2));
    const afterTruncation = await obtainCredentials(contextFor(env), request());
    writeFileSync(path, valid.replace('"subject":"user-1"', '"subject":"someone-else"'));
    const afterSwap = await obtainCredentials(contextFor(env), request());
    writeFileSync(path, valid.replace(/"Expiration":"[^"]+"/u, '"Expiration":"not a date"'));
    const afterBadDate = await obtainCredentials(contextFor(env), request());

    // Assess
    for (const result of [afterTruncation, afterSwap, afterBadDate]) expect(result.source).toBe('broker');
    expect(new Set([first, afterTruncation, afterSwap, afterBadDate].map((r) => r.credentials.AccessKeyId)).size).toBe(4);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ subject: 'user-1', credentials: afterBadDate.credentials });
  });

  it('keeps users and entitlements apart', async () => {
    // Act
    const photos = await obtainCredentials(contextFor(env), request());
    const other = await obtainCredentials(contextFor(env), request({ entitlement: 'other' }));
    storeLogin(env, {
      issuer: ISSUER,
      tokenEndpoint: `${broker.url}/token`,
      accessToken: fakeAccessToken('user-2', 4_000_000_000),
      subject: 'user-2',
    });
    const secondUser = await obtainCredentials(contextFor(env), request());

    // Assess
    expect(new Set([photos, other, secondUser].map((r) => r.credentials.AccessKeyId)).size).toBe(3);
    expect(secondUser.source).toBe('broker');
  });

  it('asks the broker once when many calls race in one process', async () => {
    // Act
    const results = await Promise.all(Array.from({ length: 8 }, () => obtainCredentials(contextFor(env), request())));

    // Assess
    expect(brokerGrants()).toBe(1);
    expect(new Set(results.map((r) => r.credentials.AccessKeyId)).size).toBe(1);
  });

  it('asks the broker once when several keyvend processes start together, and every one prints valid JSON', async () => {
    // Act
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(
              process.execPath,
              [join(ROOT, 'dist/keyvend.mjs'), 'credentials', 'photo-uploads', '--broker-url', broker.url, '--issuer', ISSUER],
              { env },
            );
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
            child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
            child.on('close', (code) => resolve({ code, stdout, stderr }));
          }),
      ),
    );

    // Assess
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0, 0]);
    expect(runs.map((run) => run.stderr)).toEqual(['', '', '', '']);
    const keys = runs.map((run) => (JSON.parse(run.stdout) as { AccessKeyId: string }).AccessKeyId);
    expect(new Set(keys).size).toBe(1);
    expect(brokerGrants()).toBe(1);
  });
});
