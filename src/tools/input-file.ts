import { readFileSync } from 'node:fs';

/** A file a command was told to read is missing or unusable; the message says which and what to do, so no stack trace is needed. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
}

/**
 * Reads a file named on the command line or in a variable, as text. A missing file is a person's slip, not a
 * crash: the error names the file, what it was for, and (`hint`) how to make one, instead of a Node stack trace.
 */
export function readInputFile(path: string, what: string, hint?: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'not readable (permission denied)'
            : (error as Error).message;
    throw new InputFileError(`${what} ${path}: ${reason} (looked in ${process.cwd()})${hint === undefined ? '' : `\n${hint}`}`, {
      cause: error,
    });
  }
}

/** The hint for a missing entitlements file: where the example is. */
export const ENTITLEMENTS_FILE_HINT =
  'To start one, copy the example: cp examples/my-entitlements.yaml my-entitlements.yaml (docs/entitlements.md describes every field).';
