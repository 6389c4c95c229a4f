import { describe, expect, it } from 'vitest';
import {
  credentialOriginOf,
  federationEndpointFor,
  loginUrl,
  parseDestinationRules,
  partitionOf,
  resolveDestination,
  sessionDurationFor,
  signinSessionJson,
  signinTokenRequestBody,
} from '../../../src/domain/console-signin.ts';
import { InvalidRequestError } from '../../../src/domain/errors.ts';

describe('federation endpoint per partition', () => {
  it('chooses the signin host from the role ARN partition', () => {
    // Act + Assess
    expect(federationEndpointFor(partitionOf('arn:aws:iam::111111111111:role/keyvend/x'))).toBe('https://signin.aws.amazon.com/federation');
    expect(federationEndpointFor(partitionOf('arn:aws-us-gov:iam::111111111111:role/x'))).toBe(
      'https://signin.amazonaws-us-gov.com/federation',
    );
    expect(federationEndpointFor(partitionOf('arn:aws-cn:iam::111111111111:role/x'))).toBe('https://signin.amazonaws.cn/federation');
    expect(() => partitionOf('arn:aws-iso:iam::111111111111:role/x')).toThrow(InvalidRequestError);
  });
});

describe('SessionDuration follows how the credentials were obtained', () => {
  it('is omitted for chained role sessions and federation tokens', () => {
    expect(sessionDurationFor('assume_role_chained', 3600)).toBeUndefined();
    expect(sessionDurationFor('federation_token', 3600)).toBeUndefined();
  });

  it('is the session duration, within 900..43200, for credentials obtained without chaining', () => {
    expect(sessionDurationFor('assume_role', 3600)).toBe(3600);
    expect(sessionDurationFor('assume_role_with_web_identity', 43_200)).toBe(43_200);
    expect(sessionDurationFor('assume_role_with_web_identity', 100)).toBe(900);
    expect(sessionDurationFor('assume_role', 129_600)).toBe(43_200);
  });
});

describe('destination allow-list', () => {
  it('defaults to the partition console when none is asked for', () => {
    expect(resolveDestination(undefined, 'aws', [])).toBe('https://console.aws.amazon.com/');
    expect(resolveDestination(undefined, 'aws-cn', [])).toBe('https://console.amazonaws.cn/');
  });

  it('accepts any page of the partition console, apex or regional', () => {
    expect(resolveDestination('https://us-east-1.console.aws.amazon.com/s3/home?region=us-east-1#x', 'aws', [])).toBe(
      'https://us-east-1.console.aws.amazon.com/s3/home?region=us-east-1#x',
    );
    expect(resolveDestination('https://console.aws.amazon.com/cloudwatch/', 'aws', [])).toBe('https://console.aws.amazon.com/cloudwatch/');
    expect(resolveDestination('https://console.amazonaws-us-gov.com/', 'aws-us-gov', [])).toBe('https://console.amazonaws-us-gov.com/');
  });

  it.each([
    ['an unrelated host with the console host in the query', 'https://evil.example/?x=.console.aws.amazon.com'],
    ['a host that only starts with the console host', 'https://console.aws.amazon.com.evil.example/'],
    ['userinfo before the real host', 'https://console.aws.amazon.com@evil.example/'],
    ['userinfo on the console host', 'https://user:pw@console.aws.amazon.com/'],
    ['a backslash authority trick', 'https://evil.example\\@console.aws.amazon.com/'],
    ['plain http', 'http://console.aws.amazon.com/'],
    ['a port', 'https://console.aws.amazon.com:8443/'],
    ['a trailing-dot host', 'https://console.aws.amazon.com./'],
    ['two labels below the console', 'https://a.b.console.aws.amazon.com/'],
    ['a look-alike suffix', 'https://evilconsole.aws.amazon.com/'],
    ['a javascript URL', 'javascript:alert(1)//console.aws.amazon.com'],
    ['a scheme-relative URL', '//console.aws.amazon.com/'],
    ['whitespace', 'https://console.aws.amazon.com/ x'],
    ['another partition console', 'https://console.amazonaws.cn/'],
    ['percent-encoded host', 'https://console%2Eaws.amazon.com/'],
    ['not a string', 42],
  ])('refuses %s', (_label, destination) => {
    // Act + Assess
    expect(() => resolveDestination(destination, 'aws', [])).toThrow(
      expect.objectContaining({ code: 'invalid_request', reason: 'destination_not_allowed' }),
    );
  });

  it('narrows to configured prefixes when rules are set', () => {
    // Prepare
    const rules = parseDestinationRules(['https://us-east-1.console.aws.amazon.com/s3/']);

    // Act + Assess
    expect(resolveDestination('https://us-east-1.console.aws.amazon.com/s3/buckets', 'aws', rules)).toBe(
      'https://us-east-1.console.aws.amazon.com/s3/buckets',
    );
    expect(() => resolveDestination('https://us-east-1.console.aws.amazon.com/iam/', 'aws', rules)).toThrow(InvalidRequestError);
    expect(() => resolveDestination('https://us-east-1.console.aws.amazon.com/s3x/', 'aws', rules)).toThrow(InvalidRequestError);
    expect(resolveDestination(undefined, 'aws', rules)).toBe('https://us-east-1.console.aws.amazon.com/s3/');
    expect(() => parseDestinationRules(['https://evil.example/'])).toThrow();
  });
});

describe('sign-in requests and URLs', () => {
  const credentials = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's3cr+t/key=', sessionToken: 'tok&en=1' };

  it('sends the credentials in a form body, with SessionDuration only when given', () => {
    // Act
    const withDuration = new URLSearchParams(signinTokenRequestBody(signinSessionJson(credentials), 3600));
    const without = new URLSearchParams(signinTokenRequestBody(signinSessionJson(credentials), undefined));

    // Assess
    expect(withDuration.get('Action')).toBe('getSigninToken');
    expect(withDuration.get('SessionDuration')).toBe('3600');
    expect(JSON.parse(withDuration.get('Session') ?? '')).toEqual({
      sessionId: 'ASIAEXAMPLE',
      sessionKey: 's3cr+t/key=',
      sessionToken: 'tok&en=1',
    });
    expect(without.has('SessionDuration')).toBe(false);
  });

  it('builds the login URL with every parameter encoded', () => {
    // Act
    const url = new URL(
      loginUrl({
        endpoint: 'https://signin.aws.amazon.com/federation',
        issuer: 'https://keyvend.example.com/portal',
        destination: 'https://console.aws.amazon.com/s3/home?region=eu-west-1&x=1#frag',
        signinToken: 'abc+/=&def',
      }),
    );

    // Assess
    expect(url.origin + url.pathname).toBe('https://signin.aws.amazon.com/federation');
    expect(url.searchParams.get('Action')).toBe('login');
    expect(url.searchParams.get('Issuer')).toBe('https://keyvend.example.com/portal');
    expect(url.searchParams.get('Destination')).toBe('https://console.aws.amazon.com/s3/home?region=eu-west-1&x=1#frag');
    expect(url.searchParams.get('SigninToken')).toBe('abc+/=&def');
    expect(url.hash).toBe('');
  });
});

describe('credentialOriginOf', () => {
  it('sends SessionDuration only for credentials that were not chained and are not federation tokens', () => {
    // Prepare
    const cases = [
      { vending: 'assume-role', chaining: true, sent: false },
      { vending: 'assume-role', chaining: false, sent: true },
      { vending: 'keyvend-issuer', chaining: true, sent: true },
      { vending: 'keyvend-issuer', chaining: false, sent: true },
      { vending: 'federation-token', chaining: false, sent: false },
    ] as const;

    // Act + Assess
    for (const c of cases) {
      const duration = sessionDurationFor(credentialOriginOf(c.vending, c.chaining), 3600);
      expect(duration === undefined ? 'omitted' : 'sent', `${c.vending} chaining=${c.chaining}`).toBe(c.sent ? 'sent' : 'omitted');
    }
  });
});
