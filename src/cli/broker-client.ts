import * as v from 'valibot';
import { CliError, EXIT } from './errors.ts';
import { jsonObject, request, stringField } from './http.ts';

/** The credential_process v1 fields, the only ones the CLI keeps from a grant. */
export interface AwsCredentials {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly SessionToken: string;
  readonly Expiration: string;
}

export const CREDENTIALS_SCHEMA = v.object({
  AccessKeyId: v.pipe(v.string(), v.regex(/^[A-Z0-9]{16,128}$/u)),
  SecretAccessKey: v.pipe(v.string(), v.minLength(1)),
  SessionToken: v.pipe(v.string(), v.minLength(1)),
  Expiration: v.pipe(
    v.string(),
    v.check((value) => Number.isFinite(Date.parse(value)), 'not a timestamp'),
  ),
});

const ENTITLEMENTS_SCHEMA = v.object({
  entitlements: v.array(
    v.object({
      id: v.string(),
      description: v.optional(v.string()),
      roleArn: v.optional(v.string()),
      outputs: v.optional(v.array(v.string())),
      maxDurationSeconds: v.optional(v.number()),
    }),
  ),
});
export type EntitlementList = v.InferOutput<typeof ENTITLEMENTS_SCHEMA>;

const CONSOLE_SCHEMA = v.object({ url: v.pipe(v.string(), v.url()), expiresAt: v.string() });
export type ConsoleSignIn = v.InferOutput<typeof CONSOLE_SCHEMA>;

const REVOCATION_SCHEMA = v.object({
  id: v.string(),
  target: v.object({
    kind: v.picklist(['person', 'grant', 'entitlement']),
    issuerId: v.optional(v.string()),
    subject: v.optional(v.string()),
    grantId: v.optional(v.string()),
    entitlementId: v.optional(v.string()),
  }),
  reason: v.string(),
  revokedAt: v.string(),
  revokedBy: v.object({ issuerId: v.string(), subject: v.string() }),
  liveSessionsUntil: v.string(),
});
const LIVE_SESSIONS_SCHEMA = v.object({ mode: v.string(), accounts: v.array(v.string()), cutoff: v.optional(v.string()) });
const REVOKE_SCHEMA = v.object({ revocation: REVOCATION_SCHEMA, created: v.optional(v.boolean()), liveSessions: LIVE_SESSIONS_SCHEMA });
const REVOCATIONS_SCHEMA = v.object({
  revocations: v.array(v.object({ ...REVOCATION_SCHEMA.entries, liveSessionDeny: v.boolean() })),
  policyInSync: v.boolean(),
});
export type RevokeAnswer = v.InferOutput<typeof REVOKE_SCHEMA>;
export type RevocationListAnswer = v.InferOutput<typeof REVOCATIONS_SCHEMA>;

export interface BrokerClient {
  listEntitlements(): Promise<EntitlementList>;
  /** Admin only: POST /v1/admin/revocations. */
  revoke(body: Record<string, string>): Promise<RevokeAnswer>;
  /** Admin only: DELETE /v1/admin/revocations/{id}, the reason in the body. */
  unrevoke(id: string, reason: string): Promise<RevokeAnswer>;
  /** Admin only: GET /v1/admin/revocations. */
  revocations(): Promise<RevocationListAnswer>;
  credentials(entitlement: string, durationSeconds?: number): Promise<AwsCredentials>;
  consoleSignIn(input: { entitlement: string; destination?: string; durationSeconds?: number }): Promise<ConsoleSignIn>;
  /** GET /v1/explain/{entitlement}, or POST /v1/explain when an admin names someone. */
  explain(input: ExplainOptions): Promise<Record<string, unknown>>;
  /** GET /v1/admin/audit with these query parameters. */
  audit(query: Readonly<Record<string, string>>): Promise<AuditAnswer>;
}

export interface ExplainOptions {
  readonly entitlement: string;
  readonly output?: string;
  readonly for?: { readonly issuer: string; readonly subject: string; readonly groups: readonly string[] };
}

const AUDIT_SCHEMA = v.object({
  records: v.array(v.record(v.string(), v.unknown())),
  nextPageToken: v.optional(v.string()),
});
export type AuditAnswer = v.InferOutput<typeof AUDIT_SCHEMA>;
const EXPLANATION_SCHEMA = v.looseObject({ entitlement: v.string(), entitled: v.boolean() });

export function brokerClient(brokerUrl: string, accessToken: string): BrokerClient {
  const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await request(`${brokerUrl}${path}`, {
      what: 'broker',
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await jsonObject(response);
    if (!response.ok) throw brokerRefusal(response.status, json);
    return json;
  };
  return {
    async listEntitlements() {
      return parseAnswer(ENTITLEMENTS_SCHEMA, await call('GET', '/v1/entitlements'));
    },
    async credentials(entitlement, durationSeconds) {
      const answer = parseAnswer(
        CREDENTIALS_SCHEMA,
        await call('POST', '/v1/credentials', { entitlement, ...(durationSeconds === undefined ? {} : { durationSeconds }) }),
      );
      return {
        AccessKeyId: answer.AccessKeyId,
        SecretAccessKey: answer.SecretAccessKey,
        SessionToken: answer.SessionToken,
        Expiration: answer.Expiration,
      };
    },
    async consoleSignIn(input) {
      return parseAnswer(CONSOLE_SCHEMA, await call('POST', '/v1/console', input));
    },
    async explain(input) {
      const answer =
        input.for === undefined
          ? await call(
              'GET',
              `/v1/explain/${encodeURIComponent(input.entitlement)}${input.output === undefined ? '' : `?output=${encodeURIComponent(input.output)}`}`,
            )
          : await call('POST', '/v1/explain', {
              entitlement: input.entitlement,
              ...(input.output === undefined ? {} : { output: input.output }),
              ...input.for,
            });
      return parseAnswer(EXPLANATION_SCHEMA, answer);
    },
    async audit(query) {
      const search = new URLSearchParams(Object.entries(query)).toString();
      return parseAnswer(AUDIT_SCHEMA, await call('GET', `/v1/admin/audit${search === '' ? '' : `?${search}`}`));
    },
    async revoke(body) {
      return parseAnswer(REVOKE_SCHEMA, await call('POST', '/v1/admin/revocations', body));
    },
    async unrevoke(id, reason) {
      return parseAnswer(REVOKE_SCHEMA, await call('DELETE', `/v1/admin/revocations/${encodeURIComponent(id)}`, { reason }));
    },
    async revocations() {
      return parseAnswer(REVOCATIONS_SCHEMA, await call('GET', '/v1/admin/revocations'));
    },
  };
}

/** The broker's `{error, message, requestId}` as a one-line CLI error with the matching exit code. */
export function brokerRefusal(status: number, body: Record<string, unknown>): CliError {
  // Only a snake_case code is the broker's; anything else (a proxy's or a gateway's page) is named by status.
  const reported = stringField(body, 'error');
  const code = reported !== undefined && /^[a-z][a-z0-9_]{0,63}$/u.test(reported) ? reported : `http_${status}`;
  const requestId = stringField(body, 'requestId');
  const options = requestId === undefined ? {} : { requestId };
  if (status === 401) {
    return new CliError(
      code,
      `${(code === reported ? stringField(body, 'message') : undefined) ?? 'the broker refused your token'}; run \`keyvend login\``,
      EXIT.notLoggedIn,
      options,
    );
  }
  const message = (code === reported ? stringField(body, 'message') : undefined) ?? `the broker answered HTTP ${status}`;
  const exitCode = status === 429 || status >= 500 ? EXIT.unavailable : EXIT.refused;
  return new CliError(code, message, exitCode, options);
}

function parseAnswer<T extends v.GenericSchema>(schema: T, body: Record<string, unknown>): v.InferOutput<T> {
  const parsed = v.safeParse(schema, body);
  if (!parsed.success) throw new CliError('unexpected_answer', 'the broker answered in an unexpected shape', EXIT.failure);
  return parsed.output;
}
