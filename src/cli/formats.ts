import type { AwsCredentials } from './broker-client.ts';

/** Exactly the fields the AWS tools read from `credential_process` (Version 1); nothing else leaves. */
export function credentialProcessJson(credentials: AwsCredentials): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: credentials.AccessKeyId,
    SecretAccessKey: credentials.SecretAccessKey,
    SessionToken: credentials.SessionToken,
    Expiration: credentials.Expiration,
  });
}

/** The shape of the container credentials provider (`AWS_CONTAINER_CREDENTIALS_FULL_URI`). */
export function containerCredentialsJson(credentials: AwsCredentials): string {
  return JSON.stringify({
    AccessKeyId: credentials.AccessKeyId,
    SecretAccessKey: credentials.SecretAccessKey,
    Token: credentials.SessionToken,
    Expiration: credentials.Expiration,
  });
}

/** The variables every AWS SDK and CLI reads, including the expiry some of them use to refresh. */
export function credentialEnvironment(credentials: AwsCredentials): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: credentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.SecretAccessKey,
    AWS_SESSION_TOKEN: credentials.SessionToken,
    AWS_CREDENTIAL_EXPIRATION: credentials.Expiration,
  };
}

/** `export NAME='value'` lines for POSIX shells (sh, bash, zsh), every value single-quoted. */
export function shellExports(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([name, value]) => `export ${name}=${singleQuote(value)}\n`)
    .join('');
}

/** POSIX single quoting: nothing inside is expanded; a quote becomes '\''. */
export function singleQuote(value: string): string {
  return `'${value.replace(/'/gu, `'\\''`)}'`;
}

/** Quotes a word for a shell-like splitter (the AWS tools split `credential_process` with shlex) only when needed. */
export function quoteWordIfNeeded(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/u.test(value) ? value : singleQuote(value);
}
