import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ROOT, startLocalStack } from '../../infra/local/stack.ts';
import { startTestIssuer } from '../support/test-issuer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: {
      apiUrl: string;
      stsUrl: string;
      idpIssuer: string;
      dynamoEndpoint: string;
      brokerEnv: Record<string, string>;
      /** Everything the broker process printed (its structured log lines), for leak scans. */
      brokerLogFile: string;
      /** The stack's state file (what `npm start` writes to .local/stack.json), for `entitlements apply --local`. */
      stateFile: string;
      roles: unknown;
      testIssuer: {
        issuer: string;
        audience: string;
        jwksUri: string;
        rsa: { kid: string; privateJwk: object };
        ec: { kid: string; privateJwk: object };
      };
    };
  }
}

const BROKER_LOG = join(ROOT, 'test-output/e2e-broker.log');
// Not .local/stack.json: a developer's `npm start` may be running beside the tests.
const STATE_FILE = join(ROOT, 'test-output/e2e-stack.json');

/** One local stack for all end-to-end tests: the dev IdP, the tests' own issuer, and the seed entitlements. */
export default async function setup(project: TestProject) {
  rmSync(BROKER_LOG, { force: true });
  const testIssuer = await startTestIssuer();
  const stack = await startLocalStack({
    entitlementsFile: join(ROOT, 'test/e2e/fixtures/entitlements.yaml'),
    extraIssuers: [testIssuer.settings],
    brokerLogFile: BROKER_LOG,
    stateFile: STATE_FILE,
  });
  project.provide('stack', {
    apiUrl: stack.apiUrl,
    stsUrl: stack.sts.url,
    idpIssuer: stack.idp?.issuer ?? '',
    dynamoEndpoint: stack.dynamo.endpoint,
    brokerEnv: { ...stack.brokerEnv },
    brokerLogFile: BROKER_LOG,
    stateFile: STATE_FILE,
    roles: stack.roles,
    testIssuer: {
      issuer: testIssuer.issuer,
      audience: testIssuer.audience,
      jwksUri: testIssuer.jwksUri,
      rsa: { kid: testIssuer.rsa.kid, privateJwk: testIssuer.rsa.privateJwk },
      ec: { kid: testIssuer.ec.kid, privateJwk: testIssuer.ec.privateJwk },
    },
  });
  return async () => {
    await stack.close();
    await testIssuer.close();
  };
}
