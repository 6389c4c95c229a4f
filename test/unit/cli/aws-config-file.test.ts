import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { upsertProfile, writeProfile } from '../../../src/cli/aws-config-file.ts';

const PROCESS = '/usr/bin/node /opt/keyvend/bin/keyvend.mjs credentials photo-uploads --broker-url https://keyvend.example.com';

const EXISTING = `# Team settings: do not remove
[default]
region = eu-west-1
output = json

; a profile someone else manages
[profile admin]
role_arn = arn:aws:iam::111111111111:role/admin
source_profile = default

[profile demo]
# keep this comment
region = us-west-2
credential_process = /old/keyvend credentials old-entitlement
s3 =
  max_concurrent_requests = 20
  region = not-a-top-level-key

[sso-session demo]
sso_region = us-east-1
`;

describe('editing the AWS config file', () => {
  it('appends a new profile and leaves every existing byte in place', () => {
    // Act
    const update = upsertProfile(EXISTING, 'keyvend-photos', { credential_process: PROCESS, region: 'us-east-1' });

    // Assess
    expect(update.created).toBe(true);
    expect(update.text.startsWith(EXISTING)).toBe(true);
    expect(update.text.slice(EXISTING.length)).toBe(`\n[profile keyvend-photos]\nregion = us-east-1\ncredential_process = ${PROCESS}\n`);
  });

  it('updates only the keys of the named profile, keeping its other settings, nested block and comments', () => {
    // Act
    const update = upsertProfile(EXISTING, 'demo', { credential_process: PROCESS });

    // Assess
    expect(update.created).toBe(false);
    expect(update.text).toBe(
      EXISTING.replace('credential_process = /old/keyvend credentials old-entitlement', `credential_process = ${PROCESS}`),
    );
    expect(update.conflicts).toEqual([]);
  });

  it('adds a missing key after the profile settings (and their nested block), not into the next section', () => {
    // Act
    const withRegion = upsertProfile(EXISTING, 'demo', { credential_process: PROCESS, region: 'ap-south-1' });
    const admin = upsertProfile(EXISTING, 'admin', { credential_process: PROCESS });

    // Assess
    expect(withRegion.text).toContain('# keep this comment\nregion = ap-south-1\n');
    expect(withRegion.text).toContain('  region = not-a-top-level-key\n\n[sso-session demo]\nsso_region = us-east-1\n');
    expect(admin.text).toContain(`source_profile = default\ncredential_process = ${PROCESS}\n\n[profile demo]`);
    expect(admin.conflicts).toEqual(['role_arn']);
  });

  it('writes [default] for the default profile and never touches [sso-session demo] for profile demo', () => {
    // Act
    const defaults = upsertProfile(EXISTING, 'default', { credential_process: PROCESS });
    const fresh = upsertProfile('', 'default', { credential_process: PROCESS });

    // Assess
    expect(defaults.text).toContain(`[default]\nregion = eu-west-1\noutput = json\ncredential_process = ${PROCESS}\n\n; a profile`);
    expect(fresh.text).toBe(`[default]\ncredential_process = ${PROCESS}\n`);
    expect(upsertProfile(EXISTING, 'demo', { credential_process: PROCESS }).text).toContain('[sso-session demo]\nsso_region = us-east-1\n');
  });

  it('keeps Windows line endings and a missing final newline as they were', () => {
    // Prepare
    const crlf = '[profile a]\r\noutput = json';

    // Act
    const update = upsertProfile(crlf, 'a', { credential_process: PROCESS });

    // Assess
    expect(update.text).toBe(`[profile a]\r\noutput = json\r\ncredential_process = ${PROCESS}`);
  });

  it('refuses profile names and values that could break the file', () => {
    expect(() => upsertProfile('', 'a]\n[profile b', { credential_process: PROCESS })).toThrow(/profile names/);
    expect(() => upsertProfile('', 'ok', { credential_process: 'x\ncredential_process = evil' })).toThrow(/one line/);
    expect(() => upsertProfile('', 'ok', { credential_process: PROCESS, region: 'us-east-1\nx' })).toThrow(/region/);
  });

  it('creates a new file readable by the user only and keeps the mode of an existing one', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'keyvend-aws-config-'));
    const fresh = join(dir, 'new', 'config');
    const existing = join(dir, 'config');
    writeFileSync(existing, EXISTING);
    chmodSync(existing, 0o640);

    // Act
    writeProfile(fresh, 'p', { credential_process: PROCESS });
    writeProfile(existing, 'p', { credential_process: PROCESS });

    // Assess
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'new')).mode & 0o777).toBe(0o700);
    expect(statSync(existing).mode & 0o777).toBe(0o640);
    expect(readFileSync(existing, 'utf8').startsWith(EXISTING)).toBe(true);
  });
});
