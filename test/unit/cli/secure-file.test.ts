import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir, withFileLock, writeFileAtomic } from '../../../src/cli/secure-file.ts';

describe('private files and locks', () => {
  it('replaces a file atomically with mode 0600 whatever the old mode, leaving no temporary file', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'keyvend-secure-'));
    const path = join(dir, 'login.json');
    writeFileSync(path, 'old', { mode: 0o644 });

    // Act
    writeFileAtomic(path, 'new');

    // Assess
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['login.json']);
  });

  it('tightens an existing folder to 0700', () => {
    // Prepare
    const dir = join(mkdtempSync(join(tmpdir(), 'keyvend-secure-')), 'cache');
    ensurePrivateDir(dir);
    chmodSync(dir, 0o755);

    // Act
    ensurePrivateDir(dir);

    // Assess
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('runs one holder at a time, and takes over a lock abandoned by a crashed process', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'keyvend-secure-'));
    const path = join(dir, 'entry.json');
    const order: string[] = [];
    const hold = (name: string) =>
      withFileLock(path, async () => {
        order.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        order.push(`${name} out`);
      });
    writeFileSync(`${path}.lock`, '999999\n');
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(`${path}.lock`, longAgo, longAgo);

    // Act
    await Promise.all([hold('a'), hold('b'), hold('c')]);

    // Assess
    expect(order).toHaveLength(6);
    for (let index = 0; index < 6; index += 2) expect(order[index]?.replace(' in', ' out')).toBe(order[index + 1]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
