import { signinSessionJson, signinTokenRequestBody } from '../../domain/console-signin.ts';
import { UpstreamUnavailableError } from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { ConsoleSignin, SigninTokenRequest } from '../../ports/index.ts';
import { withDeadline } from '../deadline/request-deadline.ts';
import { readAtMost } from '../shared/read-at-most.ts';

const MAX_RESPONSE_BYTES = 16 * 1024;
const TOKEN_PATTERN = /^[A-Za-z0-9_\-+/=.]{16,4096}$/;

export interface FederationConsoleSigninOptions {
  readonly timeoutMs?: number;
  /** Test seam; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/**
 * getSigninToken over HTTPS POST (the IAM guide allows POST), so the credentials travel in a form body and
 * never in a URL that a proxy, an access log or an X-Ray subsegment could record. Failures carry only a
 * reason: neither the request nor the response body reaches an error, because both hold secrets.
 */
export class FederationConsoleSignin implements ConsoleSignin {
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: FederationConsoleSigninOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#fetch = options.fetch ?? fetch;
  }

  async getSigninToken(request: SigninTokenRequest): Promise<Secret> {
    const body = signinTokenRequestBody(
      signinSessionJson({
        accessKeyId: request.credentials.accessKeyId,
        secretAccessKey: request.credentials.secretAccessKey.reveal(),
        sessionToken: request.credentials.sessionToken.reveal(),
      }),
      request.sessionDuration,
    );
    let response: Response;
    try {
      response = await this.#fetch(request.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        redirect: 'manual',
        signal: withDeadline(AbortSignal.timeout(this.#timeoutMs)),
      });
    } catch {
      throw new UpstreamUnavailableError('signin_endpoint_unreachable');
    }
    const text = response.body === null ? undefined : (await readAtMost(response.body, MAX_RESPONSE_BYTES))?.toString('utf8');
    if (response.status !== 200 || text === undefined) {
      throw new UpstreamUnavailableError(`signin_token_http_${response.status}`);
    }
    let token: unknown;
    try {
      token = (JSON.parse(text) as { SigninToken?: unknown }).SigninToken;
    } catch {
      throw new UpstreamUnavailableError('signin_token_malformed');
    }
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw new UpstreamUnavailableError('signin_token_malformed');
    return new Secret(token);
  }
}
