import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  containerCredentialsJson,
  credentialEnvironment,
  credentialProcessJson,
  quoteWordIfNeeded,
  shellExports,
  singleQuote,
} from '../../../src/cli/formats.ts';

const credentials = {
  AccessKeyId: 'ASIAEXAMPLE000000001',
  SecretAccessKey: 'it\'s $(touch /tmp/pwned) `x` "q" \\ secret',
  SessionToken: 'token/with+base64=',
  Expiration: '2030-01-01T00:15:00Z',
};

describe('output formats', () => {
  it('prints exactly the five credential_process v1 fields, in order, even when given more', () => {
    // Act
    const json = credentialProcessJson({ ...credentials, grantId: 'g-1', roleArn: 'arn:x' } as typeof credentials);

    // Assess
    expect(Object.keys(JSON.parse(json))).toEqual(['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
    expect(JSON.parse(json)).toEqual({ Version: 1, ...credentials });
  });

  it('gives the container provider its own field names (Token, not SessionToken)', () => {
    // Act
    const body = JSON.parse(containerCredentialsJson(credentials)) as Record<string, string>;

    // Assess
    expect(body).toEqual({
      AccessKeyId: credentials.AccessKeyId,
      SecretAccessKey: credentials.SecretAccessKey,
      Token: credentials.SessionToken,
      Expiration: credentials.Expiration,
    });
  });

  it('writes shell exports that a POSIX shell reads back byte for byte, expanding nothing', () => {
    // Prepare
    const script = `${shellExports(credentialEnvironment(credentials))}printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$AWS_CREDENTIAL_EXPIRATION"`;

    // Act
    const result = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });

    // Assess
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n').slice(0, 4)).toEqual([
      credentials.AccessKeyId,
      credentials.SecretAccessKey,
      credentials.SessionToken,
      credentials.Expiration,
    ]);
    expect(shellExports(credentialEnvironment(credentials))).toMatch(/^export AWS_CREDENTIAL_EXPIRATION='2030-01-01T00:15:00Z'$/mu);
  });

  it('quotes a word only when a shell-like splitter would misread it', () => {
    expect(quoteWordIfNeeded('/usr/bin/node')).toBe('/usr/bin/node');
    expect(quoteWordIfNeeded('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
    expect(quoteWordIfNeeded('/home/a b/keyvend')).toBe("'/home/a b/keyvend'");
    expect(singleQuote("a'b")).toBe("'a'\\''b'");
  });
});
