import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse } from '../args.ts';
import { help, type Command } from '../command.ts';
import { EXIT, usageError } from '../errors.ts';
import { writeFileAtomic } from '../secure-file.ts';
import { cliPaths, CONFIG_KEYS, parseConfigValue, readConfigFile, type ConfigKey } from '../settings.ts';

export const config: Command = {
  name: 'config',
  summary: 'show or change the defaults in the config file',
  help: `Usage: keyvend config path
       keyvend config get [KEY]
       keyvend config set KEY VALUE
       keyvend config unset KEY

The config file ($KEYVEND_CONFIG, else $XDG_CONFIG_HOME/keyvend/config.json, else
~/.config/keyvend/config.json) holds defaults that flags and environment variables override.
Keys: ${CONFIG_KEYS.join(', ')}.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {});
    if (values.help) return help(context, this.help);
    const [action, key, value, ...extra] = positionals;
    const path = cliPaths(context.env).configFile;
    if (action === 'path' && key === undefined) {
      context.stdout(`${path}\n`);
      return EXIT.ok;
    }
    const current = readConfigFile(path);
    if (action === 'get' && value === undefined) {
      if (key === undefined) context.stdout(`${JSON.stringify(current, null, 2)}\n`);
      else context.stdout(`${String(current[checkedKey(key)] ?? '')}\n`);
      return EXIT.ok;
    }
    let next: Record<string, unknown>;
    if (action === 'set' && key !== undefined && value !== undefined && extra.length === 0) {
      next = { ...current, [checkedKey(key)]: parseConfigValue(checkedKey(key), value) };
    } else if (action === 'unset' && key !== undefined && value === undefined) {
      next = { ...current };
      delete next[checkedKey(key)];
    } else {
      throw usageError('usage: keyvend config path | get [KEY] | set KEY VALUE | unset KEY');
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`);
    return EXIT.ok;
  },
};

function checkedKey(key: string): ConfigKey {
  if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw usageError(`unknown key "${key}"; keys: ${CONFIG_KEYS.join(', ')}`);
  return key as ConfigKey;
}
