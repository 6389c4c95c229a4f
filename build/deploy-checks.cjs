'use strict';

/**
 * Refuses to package (and so to deploy) a non-dev stage whose settings are placeholders or too broad
 * (docs/operations.md, "Deploy checks"). The functions would refuse some of them at start-up anyway, but only
 * after the stack is live; the others (a wildcard account in the allow-list, the placeholder CORS origin) they
 * would accept. The dev stage keeps its defaults so that `npm start` and a first `serverless package` work.
 */

const DEV_STAGES = new Set(['dev']);
const PLACEHOLDER_ORIGIN = 'https://app.example.invalid';
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const ROLE_ARN_ACCOUNT = /^arn:aws[a-z-]*:iam::([^:]*):role\//;

const list = (value) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
    : [];

/** What is wrong with these settings for `stage`, one message each; empty when packaging may go on. */
function deployProblems(stage, settings) {
  if (DEV_STAGES.has(stage)) return [];
  const problems = [];
  const issuers = typeof settings.issuers === 'string' ? settings.issuers.trim() : '';
  if (issuers === '' || issuers === '[]') {
    problems.push('KEYVEND_ISSUERS is empty: name at least one OIDC issuer (docs/deploy.md), or the functions refuse to start.');
  }
  if (settings.corsOrigins.some((origin) => origin === PLACEHOLDER_ORIGIN)) {
    problems.push(`KEYVEND_CORS_ORIGIN is the placeholder ${PLACEHOLDER_ORIGIN}: set the origin of the web app that calls the API.`);
  }
  const named = list(settings.federationUserSecrets).filter((secret) => !SECRET_ARN.test(secret));
  if (named.length > 0) {
    problems.push(
      `KEYVEND_FEDERATION_USER_SECRETS names ${named.join(', ')} instead of giving full Secrets Manager ARNs: the IAM policy is granted on exactly these strings, so a name matches no secret.`,
    );
  }
  const wildcard = list(settings.allowedRoleArns).filter((arn) => {
    const account = ROLE_ARN_ACCOUNT.exec(arn)?.[1];
    return account === undefined || !/^\d{12}$/.test(account);
  });
  if (wildcard.length > 0) {
    problems.push(
      `KEYVEND_ALLOWED_ROLE_ARNS has ${wildcard.join(', ')}, without a 12-digit account: outside the dev stage, list the target roles' accounts explicitly (arn:aws:iam::<account>:role/keyvend/*).`,
    );
  }
  return problems;
}

class KeyvendDeployChecks {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  check() {
    const service = this.serverless.service;
    const stage = this.serverless.getProvider('aws').getStage();
    const environment = service.provider.environment ?? {};
    const problems = deployProblems(stage, {
      issuers: environment.KEYVEND_ISSUERS,
      corsOrigins: service.provider.httpApi?.cors?.allowedOrigins ?? [],
      federationUserSecrets: environment.KEYVEND_FEDERATION_USER_SECRETS,
      allowedRoleArns: environment.KEYVEND_ALLOWED_ROLE_ARNS,
    });
    if (problems.length === 0) return;
    const message = [`Keyvend refuses to package stage "${stage}":`, ...problems.map((p) => `  - ${p}`)].join('\n');
    throw new this.serverless.classes.Error(message, 'KEYVEND_DEPLOY_CHECKS');
  }
}

module.exports = KeyvendDeployChecks;
module.exports.deployProblems = deployProblems;
