import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Creates `dir` (and its parents) readable by the user only, and tightens it if it already exists. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Writes a file in one step: a temporary file next to it, created with `mode`, flushed, then renamed
 * over the target. Readers see the old or the new content, never half of either.
 */
export function writeFileAtomic(path: string, content: string, mode = 0o600): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'wx', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(temporary, mode);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** The file's text, or undefined when it does not exist. Other errors (permissions) are thrown. */
export function readTextIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Parsed JSON, or undefined when the file is missing or not JSON: such a file is ignored and later replaced. */
export function readJsonIfPresent(path: string): unknown {
  const text = readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface LockOptions {
  /** Give up waiting after this long and take the lock over (its holder is presumed dead). */
  readonly waitMs?: number;
  /** A lock file older than this belongs to a crashed process. */
  readonly staleMs?: number;
}

/**
 * Runs `work` while holding `<path>.lock`, created with O_EXCL so that only one process at a time
 * (two `keyvend credentials` started together by the AWS CLI, say) refreshes a token or credentials.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const staleMs = options.staleMs ?? 120_000;
  const deadline = Date.now() + (options.waitMs ?? 150_000);
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(lockPath, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isStale(lockPath, staleMs) || Date.now() > deadline) {
        rmSync(lockPath, { force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
    }
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return await work();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

function isStale(lockPath: string, staleMs: number): boolean {
  try {
    return Date.now() - statSync(lockPath).mtimeMs > staleMs;
  } catch {
    return false;
  }
}
