import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { usageError } from './errors.ts';
import { readTextIfPresent, writeFileAtomic } from './secure-file.ts';
import { REGION_PATTERN } from './settings.ts';

export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9_.@+-]{1,64}$/u;
const SECTION = /^\s*\[\s*([^\]]*?)\s*\]\s*(?:[#;].*)?$/u;

/** Keys that make the AWS tools ignore `credential_process` in the same profile. */
const OVERRIDING_KEYS = [
  'role_arn',
  'web_identity_token_file',
  'sso_start_url',
  'sso_session',
  'aws_access_key_id',
  'aws_secret_access_key',
  'aws_session_token',
];

export function awsConfigFilePath(env: Readonly<Record<string, string | undefined>>): string {
  return env['AWS_CONFIG_FILE'] || join(env['HOME'] || homedir(), '.aws', 'config');
}

export interface ProfileSettings {
  readonly credential_process: string;
  readonly region?: string | undefined;
}

export interface ProfileUpdate {
  readonly text: string;
  readonly created: boolean;
  /** Keys already in the profile that would take precedence over credential_process. */
  readonly conflicts: string[];
}

/**
 * Sets keys in one profile of an AWS config file and leaves every other line (other profiles, comments,
 * blank lines, nested settings, line endings) exactly as it was. The profile is `[default]` or
 * `[profile <name>]`; a missing profile is appended.
 */
export function upsertProfile(original: string, profile: string, settings: ProfileSettings): ProfileUpdate {
  if (!PROFILE_NAME_PATTERN.test(profile)) throw usageError(`profile names are 1-64 letters, digits and _ . @ + -; got "${profile}"`);
  if (settings.region !== undefined && !REGION_PATTERN.test(settings.region))
    throw usageError(`"${settings.region}" is not an AWS region name`);
  if (/[\r\n]/u.test(settings.credential_process)) throw usageError('credential_process must be one line');
  const newline = original.includes('\r\n') ? '\r\n' : '\n';
  const lines = original === '' ? [] : original.split(/\r?\n/u);
  const trailingNewline = original === '' || /\r?\n$/u.test(original);
  if (trailingNewline && lines.length > 0) lines.pop();

  const wanted: [string, string][] = [
    ['region', settings.region],
    ['credential_process', settings.credential_process],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const headerIndex = lines.findIndex((line) => isHeaderOf(line, profile));
  if (headerIndex === -1) {
    const block = [profile === 'default' ? '[default]' : `[profile ${profile}]`, ...wanted.map(([key, value]) => `${key} = ${value}`)];
    const separated = lines.length > 0 && lines.at(-1)?.trim() !== '' ? ['', ...block] : block;
    return { text: [...lines, ...separated].join(newline) + newline, created: true, conflicts: [] };
  }

  let end = lines.findIndex((line, index) => index > headerIndex && SECTION.test(line));
  if (end === -1) end = lines.length;
  const conflicts: string[] = [];
  let lastSetting = headerIndex;
  for (let index = headerIndex + 1; index < end; index += 1) {
    const key = topLevelKey(lines[index] ?? '');
    if (key === undefined) continue;
    lastSetting = index;
    if (OVERRIDING_KEYS.includes(key)) conflicts.push(key);
  }
  const missing: string[] = [];
  for (const [key, value] of wanted) {
    const at = lines.findIndex((line, index) => index > headerIndex && index < end && topLevelKey(line) === key);
    if (at === -1) missing.push(`${key} = ${value}`);
    else lines[at] = `${key} = ${value}`;
  }
  lines.splice(lastSetting + 1 + nestedLinesAfter(lines, lastSetting, end), 0, ...missing);
  return { text: lines.join(newline) + (trailingNewline ? newline : ''), created: false, conflicts };
}

function isHeaderOf(line: string, profile: string): boolean {
  const name = SECTION.exec(line)?.[1];
  if (name === undefined) return false;
  if (profile === 'default' && name === 'default') return true;
  const match = /^profile\s+(.+)$/u.exec(name);
  return match?.[1] === profile;
}

/** A `key = value` line at the start of a line; indented lines belong to a nested block (`s3 =`). */
function topLevelKey(line: string): string | undefined {
  return /^([A-Za-z0-9_.-]+)\s*=/u.exec(line)?.[1];
}

/** Indented lines that continue the setting at `index` (a nested block such as `s3 =`). */
function nestedLinesAfter(lines: string[], index: number, end: number): number {
  let count = 0;
  while (index + 1 + count < end && /^\s+\S/u.test(lines[index + 1 + count] ?? '')) count += 1;
  return count;
}

/** Reads, edits and atomically replaces the file, keeping its permissions (0600 for a new file). */
export function writeProfile(path: string, profile: string, settings: ProfileSettings): ProfileUpdate {
  const original = readTextIfPresent(path) ?? '';
  const update = upsertProfile(original, profile, settings);
  let mode = 0o600;
  try {
    mode = statSync(path).mode & 0o777;
    accessSync(path, constants.W_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }
  writeFileAtomic(path, update.text, mode);
  return update;
}
