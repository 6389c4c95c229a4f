import type { CliContext } from './settings.ts';

export interface Command {
  readonly name: string;
  /** One line for `keyvend --help`. */
  readonly summary: string;
  /** The full `keyvend <name> --help` text. */
  readonly help: string;
  /** Resolves to the exit code. */
  run(args: readonly string[], context: CliContext): Promise<number>;
}

export function help(context: CliContext, text: string): number {
  context.stdout(`${text}\n`);
  return 0;
}
