import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './errors.ts';
import type { SettingFlags } from './settings.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command that talks to the broker accepts. */
export const BROKER_FLAGS = {
  'broker-url': { type: 'string' },
  issuer: { type: 'string' },
} as const satisfies Options;

export const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/** node:util's parseArgs, with its errors turned into usage errors (exit 2). */
export function parse<T extends Options>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options: { ...HELP_FLAG, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
}

export function settingFlags(values: Record<string, unknown>): SettingFlags {
  const text = (name: string) => (typeof values[name] === 'string' ? values[name] : undefined);
  return {
    brokerUrl: text('broker-url'),
    issuer: text('issuer'),
    clientId: text('client-id'),
    resource: text('resource'),
    scope: text('scope'),
    minRemainingMinutes: text('min-remaining'),
    region: text('region'),
  };
}

export function exactlyOne(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw usageError(`expected one ${what}, got ${positionals.length}`);
  return positionals[0];
}

export function optionalDuration(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 900 || seconds > 43_200) throw usageError('--duration takes whole seconds from 900 to 43200');
  return seconds;
}
