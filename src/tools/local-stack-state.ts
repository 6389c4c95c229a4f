import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * What `npm start` writes while the local stack runs, so tools find it without being told its ports:
 * `npm run entitlements -- apply --local <file>` reads the DynamoDB endpoint and table from here. It is removed
 * when the stack stops; a file left by a stack that died is recognised by its process id.
 */
export interface LocalStackState {
  readonly pid: number;
  readonly apiUrl: string;
  readonly dynamodbEndpoint: string;
  readonly region: string;
  readonly tables: { readonly entitlements: string; readonly audit: string };
  /** The audit export (absent when the stack runs dynalite, which has no streams): `npm run audit:verify -- --local`. */
  readonly audit?: { readonly s3Endpoint: string; readonly bucket: string; readonly exportHeadTable: string };
}

/** `.local/stack.json` under the working directory (npm runs scripts in the package root), or $KEYVEND_LOCAL_STATE. */
export function localStackStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['KEYVEND_LOCAL_STATE'] || '.local/stack.json');
}

export function writeLocalStackState(path: string, state: LocalStackState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the file only if this process wrote it, so a second `npm start` that failed leaves the first one's. */
export function removeLocalStackState(path: string, pid = process.pid): void {
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown }).pid === pid) rmSync(path, { force: true });
  } catch {
    // already gone or unreadable: nothing of ours to remove
  }
}

export type LocalStackLookup = { ok: true; state: LocalStackState } | { ok: false; problem: string };

/** The running local stack, or why there is none, in words that say what to do. */
export function findLocalStack(path: string): LocalStackLookup {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { ok: false, problem: `no local stack is running (${path} does not exist): start one with npm start, in another terminal` };
  }
  let state: LocalStackState;
  try {
    state = JSON.parse(text) as LocalStackState;
  } catch {
    return { ok: false, problem: `${path} is not the state file npm start writes (not JSON): remove it and run npm start` };
  }
  if (typeof state.dynamodbEndpoint !== 'string' || typeof state.tables?.entitlements !== 'string' || typeof state.pid !== 'number') {
    return { ok: false, problem: `${path} is not the state file npm start writes: remove it and run npm start` };
  }
  if (!isRunning(state.pid)) {
    return {
      ok: false,
      problem: `no local stack is running: ${path} was left by a stack that stopped (process ${state.pid}); run npm start`,
    };
  }
  return { ok: true, state };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
