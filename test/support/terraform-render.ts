import { parse } from '@cdktf/hcl2json';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../infra/local/stack.ts';

/** A module's .tf files as hcl2json reads them, merged: expressions stay as `${...}` source text. */
export type TerraformModule = {
  terraform: Record<string, unknown>[];
  variable: Record<string, Record<string, unknown>[]>;
  locals: Record<string, unknown>;
  resource: Record<string, Record<string, Record<string, unknown>[]>>;
  output: Record<string, Record<string, unknown>[]>;
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export async function loadModule(directory: string): Promise<TerraformModule> {
  const module: TerraformModule = { terraform: [], variable: {}, locals: {}, resource: {}, output: {} };
  const files = readdirSync(join(ROOT, directory)).filter((name) => name.endsWith('.tf'));
  for (const file of files) {
    const parsed: unknown = await parse(file, readFileSync(join(ROOT, directory, file), 'utf8'));
    if (!isRecord(parsed)) throw new Error(`${file} did not parse to an object`);
    for (const [kind, body] of Object.entries(parsed)) {
      if (kind === 'terraform' && Array.isArray(body)) module.terraform.push(...(body as Record<string, unknown>[]));
      else if (kind === 'locals' && Array.isArray(body)) for (const block of body) Object.assign(module.locals, block);
      else if (kind === 'variable' || kind === 'output') Object.assign(module[kind], body);
      else if (kind === 'resource' && isRecord(body)) {
        for (const [type, instances] of Object.entries(body))
          module.resource[type] = { ...module.resource[type], ...(instances as Record<string, Record<string, unknown>[]>) };
      } else if (kind !== 'data') throw new Error(`${file}: block ${kind} is not supported by this evaluator`);
    }
  }
  return module;
}

/** The offset of the '}' closing the '{' at `open`, counting nested braces. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  throw new Error(`unbalanced interpolation in ${text}`);
}

/** The HCL string literal starting at `start` ('"'), unescaped, and the offset after it. */
function stringLiteral(text: string, start: number): { value: string; end: number } {
  let i = start + 1;
  let depth = 0;
  while (i < text.length && (text[i] !== '"' || depth > 0)) {
    if (text[i] === '\\') {
      i += 2;
    } else if (text.startsWith('${', i)) {
      depth++;
      i += 2;
    } else {
      if (text[i] === '}' && depth > 0) depth--;
      i++;
    }
  }
  if (i >= text.length) throw new Error(`unterminated string in ${text}`);
  return { value: JSON.parse(text.slice(start, i + 1)) as string, end: i + 1 };
}

/**
 * Evaluates values of the module for given input variables, as Terraform would, for the few expression forms the
 * Keyvend modules use: var.*, local.*, the data attributes passed in `data`, string templates, trimprefix() and
 * `[for x in <list> : "<template>"]`. Anything else is an error rather than a guess.
 */
export function evaluator(module: TerraformModule, inputs: Record<string, unknown>, data: Record<string, string>) {
  for (const name of Object.keys(inputs)) if (!(name in module.variable)) throw new Error(`the module has no variable ${name}`);

  const variable = (name: string): unknown => {
    const declaration = module.variable[name]?.[0];
    if (declaration === undefined) throw new Error(`unknown variable ${name}`);
    const value = name in inputs ? inputs[name] : declaration['default'];
    if (value === undefined) throw new Error(`variable ${name} needs a value`);
    return value;
  };

  const expression = (source: string, scope: Record<string, unknown>): unknown => {
    const text = source.trim();
    let match: RegExpMatchArray | null;
    if ((match = /^var\.(\w+)$/.exec(text))) return variable(match[1] ?? '');
    if ((match = /^local\.(\w+)$/.exec(text))) {
      const name = match[1] ?? '';
      if (!(name in module.locals)) throw new Error(`unknown local ${name}`);
      return value(module.locals[name], {});
    }
    if (/^data\.[\w.]+$/.test(text)) {
      if (!(text in data)) throw new Error(`${text} needs a value in data`);
      return data[text];
    }
    if (/^\w+$/.test(text) && text in scope) return scope[text];
    if (text.startsWith('"')) {
      const literal = stringLiteral(text, 0);
      if (literal.end === text.length) return template(literal.value, scope);
    }
    if ((match = /^trimprefix\((.+),\s*"([^"\\$]*)"\)$/s.exec(text))) {
      const subject = expression(match[1] ?? '', scope);
      if (typeof subject !== 'string') throw new Error(`trimprefix needs a string: ${text}`);
      const prefix = match[2] ?? '';
      return subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
    }
    if ((match = /^\[for (\w+) in ([\w.]+)\s*:\s*(".*")\s*\]$/s.exec(text))) {
      const [, name = '', listSource = '', body = ''] = match;
      const items = expression(listSource, scope);
      if (!Array.isArray(items)) throw new Error(`for needs a list: ${text}`);
      return items.map((item) => expression(body, { ...scope, [name]: item }));
    }
    throw new Error(`expression not supported by this evaluator: ${text}`);
  };

  const template = (text: string, scope: Record<string, unknown>): unknown => {
    const first = text.indexOf('${');
    if (first === 0 && closingBrace(text, 1) === text.length - 1) return expression(text.slice(2, -1), scope);
    let out = '';
    let at = 0;
    for (let start = first; start !== -1; start = text.indexOf('${', at)) {
      const end = closingBrace(text, start + 1);
      const part = expression(text.slice(start + 2, end), scope);
      if (typeof part !== 'string' && typeof part !== 'number') throw new Error(`a template can only interpolate strings: ${text}`);
      out += text.slice(at, start) + String(part);
      at = end + 1;
    }
    return out + text.slice(at);
  };

  const value = (node: unknown, scope: Record<string, unknown>): unknown => {
    if (typeof node === 'string') return template(node, scope);
    if (Array.isArray(node)) return node.map((item) => value(item, scope));
    if (!isRecord(node)) return node;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) {
      const resolvedKey = template(key, scope);
      if (typeof resolvedKey !== 'string') throw new Error(`an object key must be a string: ${key}`);
      out[resolvedKey] = value(item, scope);
    }
    return out;
  };

  return { value: (node: unknown) => value(node, {}), local: (name: string) => expression(`local.${name}`, {}) };
}
