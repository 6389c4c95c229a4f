import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { scanAll } from '../support/dynamodb.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { type LocalStack, ROOT, startBroker, startLocalStack } from '../../infra/local/stack.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import {
  alterSignedResponse,
  BILLION_LAUGHS_DOCTYPE,
  COMMENT_TRICK_DOCTYPE,
  duplicateAssertion,
  injectIntoNameId,
  resignResponseWith,
  stripAssertionSignature,
  stripSignatures,
  withDoctype,
  XXE_DOCTYPE,
  xswAttacks,
} from '../support/saml-attacks.ts';
import { generateSigningCert, RSA_SHA1, type SamlifyIdp, samlifyIdp, type SigningCert } from '../../infra/local/saml-idp.ts';
import {
  brokerLogLines,
  auditedDecision as sharedStackAuditedDecision,
  stack as sharedStack,
  stsCallCount as sharedStackStsCalls,
} from '../support/e2e.ts';
import { type SimpleSamlPhpIdp, startSimpleSamlPhp } from '../support/simplesamlphp.ts';
import { samlWithCli, samlWithSdk } from '../support/direct-sts.ts';

const SAMLIFY_ENTITY_ID = 'https://samlify.idp.test/metadata';
const SP_AUDIENCE = 'urn:keyvend:local';
const BROKER_LOG = join(ROOT, 'test-output/e2e-saml-broker.log');
const ALICE = 'alice-7f3a9c1e';
const AWS_SIGNIN_SAML = 'https://signin.aws.amazon.com/saml';
/** The SAML provider of infra/local/roles.yaml, which trusts test/fixtures/saml-idp/cert.pem. */
const EMULATOR_SAML_PROVIDER = 'arn:aws:iam::111111111111:saml-provider/keyvend-test-idp';
const AWS_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/';
const BROKER_PROVIDER = 'arn:aws:iam::111111111111:oidc-provider/keyvend.local';
const DEMO_ROLES = ['photo-uploads', 'console-readonly', 'hourly-readonly'].map((name) => `arn:aws:iam::111111111111:role/keyvend/${name}`);

let stack: LocalStack;
let acsUrl: string;
let samlify: SamlifyIdp;
let attackerIdp: SamlifyIdp;
let simpleSaml: SimpleSamlPhpIdp;
let samlifyCert: SigningCert;
/**
 * An IdP the broker does not trust, signing with the key the emulator's SAML provider trusts: what an account that
 * once trusted its callers' IdP directly still accepts at its SAML provider. No demo role trusts that provider.
 */
let awsIdp: SamlifyIdp;
const awsIdpCert: SigningCert = {
  certPem: readFileSync(join(ROOT, 'test/fixtures/saml-idp/cert.pem'), 'utf8'),
  keyPem: readFileSync(join(ROOT, 'test/fixtures/saml-idp/key.pem'), 'utf8'),
};

beforeAll(async () => {
  samlifyCert = generateSigningCert('samlify-idp');
  const sspCert = generateSigningCert('simplesamlphp-idp');
  const sspPort = await freePort();
  const sspEntityId = `http://127.0.0.1:${sspPort}/saml2/idp/metadata.php`;
  stack = await startLocalStack({
    entitlementsFile: join(ROOT, 'test/e2e/fixtures/saml-entitlements.yaml'),
    brokerLogFile: BROKER_LOG,
    samlAudience: SP_AUDIENCE,
    samlIdps: [
      {
        id: 'samlify',
        entityId: SAMLIFY_ENTITY_ID,
        certificates: [samlifyCert.certPem],
        groupsAttribute: 'groups',
        tagAttributes: { department: 'department' },
      },
      {
        id: 'simplesaml',
        entityId: sspEntityId,
        certificates: [sspCert.certPem],
        subjectAttribute: 'uid',
        // SimpleSAMLphp's example users have no persistent NameID; uid stands in for one here.
        allowMutableSubject: true,
        groupsAttribute: 'groups',
        tagAttributes: { department: 'department' },
        requireSignedResponse: true,
      },
    ],
  });
  acsUrl = stack.brokerEnv['KEYVEND_SAML_ACS_URL'] as string;
  const idpSettings = {
    acsUrl,
    audience: SP_AUDIENCE,
    defaultNameId: ALICE,
    defaultAttributes: { groups: ['engineers'], department: ['research'] },
  };
  samlify = samlifyIdp({ entityId: SAMLIFY_ENTITY_ID, cert: samlifyCert, ...idpSettings });
  awsIdp = samlifyIdp({ entityId: `${SAMLIFY_ENTITY_ID}/aws`, cert: awsIdpCert, ...idpSettings });
  attackerIdp = samlifyIdp({ entityId: SAMLIFY_ENTITY_ID, cert: generateSigningCert('attacker'), ...idpSettings });
  simpleSaml = await startSimpleSamlPhp({
    port: sspPort,
    cert: sspCert,
    spEntityId: SP_AUDIENCE,
    acsUrl,
    users: [
      { username: 'carol', password: 'carol-password', attributes: { uid: ['carol-ssp'], groups: ['engineers'], department: ['finance'] } },
    ],
  });
}, 180_000);

afterAll(async () => {
  await simpleSaml?.close();
  await stack?.close();
});

async function postForm(fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.apiUrl}/v1/credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function postJson(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.apiUrl}/v1/credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function stsCalls(): Promise<number> {
  return ((await (await fetch(`${stack.sts.url}/_emulator/calls`)).json()) as unknown[]).length;
}

async function sessions(): Promise<
  {
    accessKeyId: string;
    issuedBy: string;
    provider?: string;
    subject?: string;
    roleSessionName: string;
    sourceIdentity?: string;
    tags: { Key: string; Value: string }[];
    policy?: string;
    durationSeconds: number;
  }[]
> {
  return (await (await fetch(`${stack.sts.url}/_emulator/sessions`)).json()) as never;
}

async function auditRecords(): Promise<Record<string, any>[]> {
  return scanAll(stack.documentClient, stack.brokerEnv['KEYVEND_AUDIT_TABLE']);
}

/**
 * The record of one request: its audit item, or for a refusal before anyone was verified (counted in the aggregate
 * of its source and minute, not an item of its own) the broker's decision line.
 */
async function auditOf(requestId: unknown, logFile = BROKER_LOG): Promise<Record<string, any> | undefined> {
  const item = (await auditRecords()).find((r) => r['request']?.['requestId'] === requestId);
  if (item !== undefined) return item;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = brokerLogLines(logFile).find(
      (l) => l['message'] === 'keyvend.decision' && l['audit']?.['request']?.['requestId'] === requestId,
    );
    if (line !== undefined || Date.now() > deadline) return line?.['audit'];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every rejection: 401 invalid_token, no STS call, a denial audited with the reason, and no raw response anywhere. */
async function expectRejected(samlResponse: string, reason?: RegExp) {
  const callsBefore = await stsCalls();
  const response = await postForm({ SAMLResponse: samlResponse, entitlement: 'saml-uploads' });
  expect(response.status).toBe(401);
  expect(response.json['error']).toBe('invalid_token');
  expect(await stsCalls()).toBe(callsBefore);
  const record = await auditOf(response.json['requestId']);
  expect(record).toMatchObject({ outcome: 'denied', errorCode: 'invalid_token' });
  expect(String(record?.['reason'])).toMatch(reason ?? /^saml_/);
  // A hash reference to the response, never the response: on the caller when it verified (a replay), else on the record.
  expect(String(record?.['caller']?.['tokenRef'] ?? record?.['credentialRef'])).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(JSON.stringify(record)).not.toContain(samlResponse.slice(0, 40));
  expect(JSON.stringify(response.json)).not.toContain(samlResponse.slice(0, 40));
  return record;
}

async function expectWorkingCredentials(json: Record<string, unknown>, expected: { issuer: string; subject: string; department: string }) {
  const userKey = deriveUserKey(expected.issuer, expected.subject);
  const sts = new STSClient({
    endpoint: stack.sts.url,
    region: 'us-east-1',
    credentials: {
      accessKeyId: String(json['AccessKeyId']),
      secretAccessKey: String(json['SecretAccessKey']),
      sessionToken: String(json['SessionToken']),
    },
  });
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  expect(identity.Arn).toBe(`arn:aws:sts::111111111111:assumed-role/photo-uploads/${json['roleSessionName']}`);
  const session = (await sessions()).find((s) => s.accessKeyId === json['AccessKeyId']);
  // Issued for the broker's own token, never for the caller's assertion.
  expect(session).toMatchObject({
    issuedBy: 'AssumeRoleWithWebIdentity',
    provider: BROKER_PROVIDER,
    subject: `ent:saml-uploads:user:${userKey}`,
  });
  expect(session?.roleSessionName).toBe(`${expected.subject}.${userKey}`);
  expect(session?.sourceIdentity).toBe(`${expected.subject}.${userKey}`);
  expect(session?.tags).toContainEqual({ Key: 'department', Value: expected.department });
  expect(JSON.parse(String(session?.policy)).Statement[0].Resource).toBe(`arn:aws:s3:::keyvend-demo-uploads/${userKey}/*`);
  return userKey;
}

describe('SAML callers get scoped credentials end to end', () => {
  it('a samlify-signed (RSA-SHA256) response posted as a form gets working credentials, audited as a SAML grant', async () => {
    // Prepare
    const samlResponse = await samlify.response();

    // Act
    const response = await postForm({
      SAMLResponse: samlResponse,
      entitlement: 'saml-uploads',
      durationSeconds: '900',
      RelayState: 'ignored',
    });

    // Assess
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ Version: 1, entitlement: 'saml-uploads', durationSeconds: 900 });
    const userKey = await expectWorkingCredentials(response.json, { issuer: SAMLIFY_ENTITY_ID, subject: ALICE, department: 'research' });
    const record = (await auditRecords()).find((r) => r['eventId'] === response.json['grantId']);
    expect(record).toMatchObject({
      outcome: 'granted',
      caller: { idpType: 'saml', issuerId: 'samlify', issuer: SAMLIFY_ENTITY_ID, subject: ALICE, userKey, groups: ['engineers'] },
    });
    expect(String(record?.['caller']?.['tokenRef'])).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(record)).not.toContain(samlResponse.slice(0, 40));
  });

  it("a SAML caller gets a 12-hour session through the broker's own token (no role chaining)", async () => {
    // Act
    const response = await postForm({ SAMLResponse: await samlify.response(), entitlement: 'saml-uploads', durationSeconds: '43200' });

    // Assess
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    expect(response.json['durationSeconds']).toBe(43_200);
    await expectWorkingCredentials(response.json, { issuer: SAMLIFY_ENTITY_ID, subject: ALICE, department: 'research' });
    const session = (await sessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']);
    expect(session?.durationSeconds).toBe(43_200);
    expect(new Date(String(response.json['Expiration'])).getTime() - Date.now()).toBeGreaterThan(43_100_000);
  });

  it('accepts the JSON form {samlResponse, entitlement}', async () => {
    // Act
    const response = await postJson({ samlResponse: await samlify.response(), entitlement: 'saml-uploads' });

    // Assess
    expect(response.status).toBe(200);
    await expectWorkingCredentials(response.json, { issuer: SAMLIFY_ENTITY_ID, subject: ALICE, department: 'research' });
  });

  it('a SimpleSAMLphp user signing in through its login form gets working credentials', async () => {
    // Prepare: a real IdP-initiated sign-in, response and assertion signed with RSA-SHA256
    const samlResponse = await simpleSaml.login({ username: 'carol', password: 'carol-password' });

    // Act
    const response = await postForm({ SAMLResponse: samlResponse, entitlement: 'saml-uploads' });

    // Assess
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    await expectWorkingCredentials(response.json, { issuer: simpleSaml.entityId, subject: 'carol-ssp', department: 'finance' });
  });

  it('refuses a SimpleSAMLphp login with a wrong password before any response exists', async () => {
    await expect(simpleSaml.login({ username: 'carol', password: 'wrong' })).rejects.toThrow(/no SAMLResponse/);
  });

  it('refuses a request carrying both a bearer token and a SAML response (invalid_request), audited, no STS call', async () => {
    // Prepare
    const callsBefore = await stsCalls();

    // Act
    const response = await postForm(
      { SAMLResponse: await samlify.response(), entitlement: 'saml-uploads' },
      { authorization: 'Bearer abc.def.ghi' },
    );

    // Assess
    expect(response.status).toBe(400);
    expect(response.json['error']).toBe('invalid_request');
    expect(await stsCalls()).toBe(callsBefore);
    expect(await auditOf(response.json['requestId'])).toMatchObject({ outcome: 'denied', reason: 'ambiguous_credentials' });
  });

  it('an assertion a trusted IdP issued for AWS itself is refused (401 saml_untrusted_audience), audited, no STS call', async () => {
    // Prepare
    const forAws = await samlify.response({ audience: 'urn:amazon:webservices', destination: AWS_SIGNIN_SAML, recipient: AWS_SIGNIN_SAML });

    // Act + Assess
    await expectRejected(forAws, /^saml_untrusted_audience$/);
  });

  it('a broker without SAML IdPs refuses every SAML response (the shared OIDC-only stack)', async () => {
    // Prepare
    const callsBefore = await sharedStackStsCalls();

    // Act
    const response = await fetch(`${sharedStack().apiUrl}/v1/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: await samlify.response(), entitlement: 'photo-uploads' }).toString(),
    });
    const json = (await response.json()) as Record<string, unknown>;

    // Assess
    expect(response.status).toBe(401);
    expect(json['error']).toBe('invalid_token');
    expect(await sharedStackStsCalls()).toBe(callsBefore);
    expect(await sharedStackAuditedDecision(json['requestId'])).toMatchObject({
      outcome: 'denied',
      reason: 'saml_not_configured',
    });
  });

  it('a SAML caller without the entitlement gets not_entitled, as an OIDC caller would', async () => {
    // Act
    const response = await postForm({
      SAMLResponse: await samlify.response({ attributes: { groups: ['visitors'], department: ['research'] } }),
      entitlement: 'saml-uploads',
    });

    // Assess
    expect(response.status).toBe(403);
    expect(response.json['error']).toBe('not_entitled');
    expect(await auditOf(response.json['requestId'])).toMatchObject({ outcome: 'denied', caller: { idpType: 'saml', subject: ALICE } });
  });
});

describe('every SAML attack of the security catalog (§2) is refused with 401, no STS call, and audited', () => {
  it('replay: the same response twice (S-07)', async () => {
    const samlResponse = await samlify.response();
    expect((await postForm({ SAMLResponse: samlResponse, entitlement: 'saml-uploads' })).status).toBe(200);
    const record = await expectRejected(samlResponse, /saml_replayed/);
    expect(record?.['caller']).toMatchObject({ idpType: 'saml', issuerId: 'samlify', subject: ALICE });
  });

  it('replay of a SimpleSAMLphp response', async () => {
    const samlResponse = await simpleSaml.login({ username: 'carol', password: 'carol-password' });
    expect((await postForm({ SAMLResponse: samlResponse, entitlement: 'saml-uploads' })).status).toBe(200);
    await expectRejected(samlResponse, /saml_replayed/);
  });

  it.each(Object.entries(xswAttacks('admin', undefined)))('signature wrapping on a samlify response: %s (S-01)', async (_name, attack) => {
    await expectRejected(attack(await samlify.response()));
  });

  it.each(Object.entries(xswAttacks('admin', 'uid')))(
    'signature wrapping on a SimpleSAMLphp response: %s (S-01)',
    async (_name, attack) => {
      await expectRejected(attack(await simpleSaml.login({ username: 'carol', password: 'carol-password' })));
    },
  );

  it('comment injection in the NameID (S-03)', async () => {
    await expectRejected(injectIntoNameId(await samlify.response({ nameId: 'admin.evil.test' }), 5, '<!---->'), /saml_comment/);
  });

  it('processing-instruction injection in the NameID (S-04)', async () => {
    await expectRejected(
      injectIntoNameId(await samlify.response({ nameId: 'not-an-admin' }), 0, '<?p not-an-?>'),
      /saml_processing_instruction/,
    );
  });

  it('an unsigned response and assertion (S-05)', async () => {
    await expectRejected(stripSignatures(await samlify.response()), /saml_bad_signature/);
  });

  it('a signed response carrying an unsigned assertion (S-05)', async () => {
    await expectRejected(await samlify.response({ signAssertion: false, signResponse: true }), /saml_bad_signature/);
    await expectRejected(
      stripAssertionSignature(await simpleSaml.login({ username: 'carol', password: 'carol-password' })),
      /saml_bad_signature/,
    );
  });

  it('an assertion-only signed response where the IdP is configured to sign responses too', async () => {
    const doc = Buffer.from(await simpleSaml.login({ username: 'carol', password: 'carol-password' }), 'base64').toString('utf8');
    const responseSignature = /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(doc)?.[0] ?? '';
    await expectRejected(Buffer.from(doc.replace(responseSignature, ''), 'utf8').toString('base64'), /saml_bad_signature/);
  });

  it.each([
    ['in place of the signed assertion', (_assertion: string, encrypted: string) => encrypted],
    ['beside the signed assertion', (assertion: string, encrypted: string) => `${assertion}${encrypted}`],
  ])('an EncryptedAssertion %s: refused with a clear reason, never decrypted (the bundle carries no decryption)', async (_name, place) => {
    // Prepare
    const doc = Buffer.from(await samlify.response(), 'base64').toString('utf8');
    const assertion = /<(\w+:)?Assertion[\s>][\s\S]*?<\/\1Assertion>/.exec(doc)?.[0] ?? '';
    expect(assertion).not.toBe('');
    const encrypted =
      '<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">' +
      '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue>' +
      '</xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>';
    // Act, Assess
    await expectRejected(
      Buffer.from(doc.replace(assertion, place(assertion, encrypted)), 'utf8').toString('base64'),
      /^saml_encrypted_assertion$/,
    );
  });

  it('two assertions (S-06)', async () => {
    await expectRejected(duplicateAssertion(await samlify.response()), /saml_assertion_count/);
  });

  it.each([
    [
      'Issuer of another IdP, signed by the same key',
      { issuer: 'https://other.idp.test/metadata', responseIssuer: 'https://other.idp.test/metadata' },
      /saml_unknown_issuer/,
    ],
    [
      'assertion Issuer that differs from the response Issuer',
      { responseIssuer: 'https://other.idp.test/metadata' },
      /saml_issuer_mismatch/,
    ],
    ['Audience of another SP', { audience: 'urn:other:sp' }, /saml_untrusted_audience/],
    ['Audience urn:amazon:webservices, not configured for this IdP', { audience: 'urn:amazon:webservices' }, /saml_untrusted_audience/],
    ['Destination of another SP', { destination: 'https://other.sp.test/acs' }, /saml_destination_mismatch/],
    ['Recipient of another SP', { recipient: 'https://other.sp.test/acs' }, /saml_recipient_mismatch/],
    ['expired', { issueInstant: new Date(Date.now() - 3_600_000), notOnOrAfter: new Date(Date.now() - 60_000) }, /saml_expired/],
    ['not yet valid', { notBefore: new Date(Date.now() + 120_000), notOnOrAfter: new Date(Date.now() + 600_000) }, /saml_not_yet_valid/],
    ['signed with RSA-SHA1 (S-10)', { signatureAlgorithm: RSA_SHA1 }, /saml_weak_signature_algorithm/],
    ['a status other than Success', { statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }, /saml_status_not_success/],
    [
      'a transient NameID where persistent is required (S-12)',
      { nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' },
      /saml_nameid_format/,
    ],
    ['a NameID with a trailing newline (S-12)', { nameId: `${ALICE}\n` }, /saml_subject_invalid/],
    ['a NameID with a wildcard (S-12)', { nameId: 'alice*' }, /saml_subject_invalid/],
    ['a group outside the grammar', { attributes: { groups: ['engineers', 'admins*'], department: ['research'] } }, /saml_groups_invalid/],
    [
      'a multi-valued tag attribute',
      { attributes: { groups: ['engineers'], department: ['research', 'finance'] } },
      /saml_attribute_invalid/,
    ],
  ] as const)('%s (S-08)', async (_name, options, reason) => {
    await expectRejected(await samlify.response(options), reason);
  });

  it('a response signed by a key that is not pinned (wrong certificate, S-10)', async () => {
    await expectRejected(await attackerIdp.response(), /saml_bad_signature/);
  });

  it('a Response whose own signature does not verify, although the IdP signed the assertion (issue 10, item 8 a)', async () => {
    // The samlify IdP's responses need only a signed assertion (requireSignedResponse is off): a signature that is
    // present must verify all the same.
    await expectRejected(alterSignedResponse(await samlify.response()), /^saml_bad_signature$/);
    await expectRejected(resignResponseWith(await samlify.response({ signResponse: false }), attackerIdp.cert), /^saml_bad_signature$/);
    await expectRejected(resignResponseWith(await samlify.response(), attackerIdp.cert), /^saml_bad_signature$/);
  });

  it('a response answering an AuthnRequest, which the API never sends (issue 10, item 8 c)', async () => {
    const record = await expectRejected(
      await samlify.response({ inResponseTo: '_request-of-another-sp' }),
      /^saml_unsolicited_in_response_to$/,
    );
    // The assertion verified, so the denial names whose it was.
    expect(record?.['caller']).toMatchObject({ idpType: 'saml', issuerId: 'samlify', subject: ALICE });
  });

  it.each([
    ['XXE', XXE_DOCTYPE],
    ['billion laughs', BILLION_LAUGHS_DOCTYPE],
    ['the DOCTYPE comment trick (CVE-2025-25291)', COMMENT_TRICK_DOCTYPE],
  ])('a DOCTYPE: %s (S-09)', async (_name, doctype) => {
    await expectRejected(withDoctype(await samlify.response(), doctype), /saml_doctype|saml_comment/);
  });

  it('an oversized response (S-09)', async () => {
    await expectRejected(
      await samlify.response({ attributes: { groups: ['engineers'], department: ['research'], padding: ['x'.repeat(70_000)] } }),
      /saml_too_large/,
    );
  });

  it('not base64 at all', async () => {
    await expectRejected('<samlp:Response/>', /saml_not_base64/);
  });

  it('fails closed with 503 when the replay table cannot be written: no STS call, denial audited', async () => {
    // Prepare: a second broker on the same stack whose replay table does not exist
    const closers: Array<() => Promise<void>> = [];
    const logFile = join(ROOT, 'test-output/e2e-saml-broker-no-replay-table.log');
    const apiUrl = await startBroker(
      { ...stack.brokerEnv, KEYVEND_SAML_REPLAY_TABLE: 'keyvend-local-missing-replay-table' },
      { closers, logFile },
    );
    try {
      const callsBefore = await stsCalls();

      // Act
      const response = await fetch(`${apiUrl}/v1/credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: await samlify.response(), entitlement: 'saml-uploads' }).toString(),
      });
      const json = (await response.json()) as Record<string, unknown>;

      // Assess
      expect(response.status).toBe(503);
      expect(json['error']).toBe('upstream_unavailable');
      expect(await stsCalls()).toBe(callsBefore);
      expect(await auditOf(json['requestId'], logFile)).toMatchObject({ outcome: 'denied', reason: 'saml_replay_cache_unavailable' });
    } finally {
      for (const close of closers) await close();
    }
  });

  it('no raw SAML response reached the broker log', async () => {
    const log = readFileSync(BROKER_LOG, 'utf8');
    expect(log).not.toMatch(/PHNhbWxwOlJlc3BvbnNl/); // base64 of "<samlp:Response"
    expect(log).not.toContain('<samlp:Response');
  });
});

/** An assertion issued for AWS itself: audience, Destination and Recipient are AWS's. */
function awsAssertion(options: { roles: string[]; recipient?: string; destination?: string; attributes?: Record<string, string[]> }) {
  return awsIdp.response({
    audience: 'urn:amazon:webservices',
    destination: options.destination ?? AWS_SIGNIN_SAML,
    recipient: options.recipient ?? AWS_SIGNIN_SAML,
    attributes: {
      groups: ['engineers'],
      [`${AWS_ATTRIBUTE}Role`]: options.roles,
      [`${AWS_ATTRIBUTE}RoleSessionName`]: ['alice@example.com'],
      [`${AWS_ATTRIBUTE}SourceIdentity`]: ['alice'],
      [`${AWS_ATTRIBUTE}PrincipalTag:team`]: ['research'],
      ...options.attributes,
    },
  });
}

describe('a SAML assertion for AWS, sent straight to STS, opens no demo role', () => {
  it.each(DEMO_ROLES)('%s refuses it with the AWS SDK and with the AWS CLI', async (roleArn) => {
    // Prepare: an assertion the account's (leftover) SAML provider verifies, naming this role
    const assertion = await awsAssertion({ roles: [`${EMULATOR_SAML_PROVIDER},${roleArn}`] });
    const again = await awsAssertion({ roles: [`${EMULATOR_SAML_PROVIDER},${roleArn}`] });

    // Act
    const sdk = await samlWithSdk(stack.sts.url, roleArn, EMULATOR_SAML_PROVIDER, assertion);
    const cli = await samlWithCli(stack.sts.url, roleArn, EMULATOR_SAML_PROVIDER, again);

    // Assess: AccessDenied, not an invalid assertion: the provider verified it and the role's trust policy said no
    expect(sdk).toEqual({ ok: false, error: 'AccessDenied' });
    expect(cli.ok).toBe(false);
    expect(cli.error).toMatch(/AccessDenied/);
  });
});
