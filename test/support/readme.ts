import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ROOT } from '../../infra/local/stack.ts';

export interface ReadmeBlock {
  /** The `## ` or `### ` heading the block sits under. */
  readonly section: string;
  /** The block's text, as a reader copies it. */
  readonly text: string;
}

/** Every ```sh block of the README, in order, with the heading it sits under. */
export function readmeShBlocks(): ReadmeBlock[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/gu)].map((match) => {
    const before = readme.slice(0, match.index);
    const heading = [...before.matchAll(/^#{2,3} (.+)$/gmu)].at(-1)?.[1] ?? '';
    return { section: heading, text: match[1] ?? '' };
  });
}

/** A script in `bash -euo pipefail`, in `cwd`, with exactly the environment given. */
export function bash(
  script: string,
  env: Record<string, string>,
  cwd: string = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-euo', 'pipefail', '-c', script], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Not copied: installed or generated, never part of a clone (node_modules is linked instead). */
const NOT_IN_A_CLONE = new Set(['.git', 'node_modules', 'dist', 'test-output', '.local', '.serverless', '.esbuild']);

/**
 * A temporary copy of the working directory, as a fresh clone after `npm install` would look, for commands that
 * write files (a README's `cp … my-entitlements.yaml` must not litter the repository). node_modules is a link to
 * the repository's own.
 */
export function workingCopy(): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'keyvend-readme-')), 'keyvend');
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (source) => !(dirname(source) === ROOT && NOT_IN_A_CLONE.has(basename(source))),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

/** The JSON documents a script printed one after another (curl -s adds no newline between answers). */
export function jsonDocuments(text: string): unknown[] {
  const documents: unknown[] = [];
  let start = text.indexOf('{');
  for (let end = start; start !== -1 && end < text.length; end += 1) {
    if (text[end] !== '}') continue;
    try {
      documents.push(JSON.parse(text.slice(start, end + 1)));
    } catch {
      continue;
    }
    start = text.indexOf('{', end + 1);
    if (start === -1) break;
    end = start;
  }
  return documents;
}
