import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CFN_TAGS } from '../../infra/local/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';

export type CfnParameter = {
  Type: string;
  Default?: string | number;
  AllowedPattern?: string;
  AllowedValues?: string[];
  MinValue?: number;
  MaxValue?: number;
  NoEcho?: boolean;
};

export type CfnTemplate = {
  Parameters: Record<string, CfnParameter>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, unknown> }>;
};

export type Rendered = {
  /** The properties of each resource the stack would create (a resource whose Condition is false is absent). */
  resources: Record<string, Record<string, unknown>>;
  parameters: Record<string, unknown>;
  conditions: Record<string, boolean>;
};

export type RenderOptions = {
  accountId?: string;
  partition?: string;
  /** What `Ref` returns for a resource of the template (e.g. an OIDC provider's ARN): known only once deployed. */
  resourceRefs?: Record<string, string>;
};

/** Reads a template under the repository root as CloudFormation sees it: plain JSON, short-form tags as `{ '!Tag': arg }`. */
export function loadTemplate(path: string): CfnTemplate {
  // Through JSON: the short-form tags leave YAML collection nodes inside the parsed document.
  return JSON.parse(JSON.stringify(parse(readFileSync(join(ROOT, path), 'utf8'), { customTags: CFN_TAGS as never }))) as CfnTemplate;
}

const NO_VALUE = Symbol('AWS::NoValue');

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} needs a list, got ${JSON.stringify(value)}`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new Error(`${what} needs a string, got ${JSON.stringify(value)}`);
}

/**
 * Refuses the parameter values CloudFormation would refuse, so that a test can rely on a parameter's constraints
 * as much as on the resources (e.g. that an id cannot widen a pattern in a policy).
 */
function checkParameter(name: string, declaration: CfnParameter, value: unknown): void {
  const items = declaration.Type === 'CommaDelimitedList' ? list(value, name) : [value];
  for (const item of items) {
    const itemText = text(item, name);
    if (declaration.AllowedPattern !== undefined && !new RegExp(declaration.AllowedPattern).test(itemText)) {
      throw new Error(`parameter ${name}: ${JSON.stringify(itemText)} does not match ${declaration.AllowedPattern}`);
    }
    if (declaration.AllowedValues !== undefined && !declaration.AllowedValues.includes(itemText)) {
      throw new Error(`parameter ${name}: ${JSON.stringify(itemText)} is not one of ${declaration.AllowedValues.join(', ')}`);
    }
  }
  if (declaration.Type === 'Number') {
    const number = Number(value);
    if (Number.isNaN(number)) throw new Error(`parameter ${name}: ${JSON.stringify(value)} is not a number`);
    if (declaration.MinValue !== undefined && number < declaration.MinValue)
      throw new Error(`parameter ${name}: below ${declaration.MinValue}`);
    if (declaration.MaxValue !== undefined && number > declaration.MaxValue)
      throw new Error(`parameter ${name}: above ${declaration.MaxValue}`);
  }
}

/**
 * Resolves the template as CloudFormation would for the given parameters, for the intrinsics the templates use
 * (Ref, Sub, If, Equals, Not, Split, Join, Select): enough to read the resources that a stack would create.
 * Anything else is an error rather than a guess.
 */
export function renderTemplate(template: CfnTemplate, parameters: Record<string, string | number>, options: RenderOptions = {}): Rendered {
  for (const name of Object.keys(parameters)) {
    if (!(name in template.Parameters)) throw new Error(`the template has no parameter ${name}`);
  }
  const values: Record<string, unknown> = {
    'AWS::Partition': options.partition ?? 'aws',
    'AWS::AccountId': options.accountId ?? '123456789012',
  };
  for (const [name, declaration] of Object.entries(template.Parameters)) {
    const given = parameters[name] ?? declaration.Default;
    if (given === undefined) throw new Error(`parameter ${name} needs a value`);
    values[name] = declaration.Type === 'CommaDelimitedList' ? String(given).split(',') : given;
    checkParameter(name, declaration, values[name]);
  }

  const conditions: Record<string, boolean> = {};
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map((item) => resolve(item)).filter((item) => item !== NO_VALUE);
    if (!isRecord(node)) return node;
    const keys = Object.keys(node);
    const tag = keys.length === 1 && keys[0]?.startsWith('!') ? keys[0] : undefined;
    if (tag === undefined) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const resolved = resolve(value);
        if (resolved !== NO_VALUE) out[key] = resolved;
      }
      return out;
    }
    const arg = node[tag];
    switch (tag) {
      case '!Ref': {
        const name = text(arg, tag);
        if (name === 'AWS::NoValue') return NO_VALUE;
        if (name in values) return values[name];
        if (name in template.Resources) {
          const ref = options.resourceRefs?.[name];
          if (ref === undefined) throw new Error(`Ref to resource ${name} needs a value in resourceRefs`);
          return ref;
        }
        throw new Error(`unknown Ref ${name}`);
      }
      case '!Sub': {
        const [body, variables] = Array.isArray(arg) ? [arg[0], arg[1]] : [arg, {}];
        const resolvedVariables = resolve(variables);
        if (!isRecord(resolvedVariables)) throw new Error('!Sub variables must be a map');
        const scope = { ...values, ...resolvedVariables };
        return text(body, tag).replace(/\$\{(!?)([^}]+)\}/g, (_match, bang: string, name: string) => {
          if (bang) return `\${${name}}`;
          if (!(name in scope)) throw new Error(`unknown Sub variable ${name}`);
          return text(scope[name], `Sub variable ${name}`);
        });
      }
      case '!If': {
        const [name, whenTrue, whenFalse] = list(arg, tag);
        const condition = text(name, tag);
        if (!(condition in conditions)) throw new Error(`unknown condition ${condition}`);
        return resolve(conditions[condition] ? whenTrue : whenFalse);
      }
      case '!Equals': {
        const [left, right] = list(arg, tag);
        return JSON.stringify(resolve(left)) === JSON.stringify(resolve(right));
      }
      case '!Not':
        return !resolve(list(arg, tag)[0]);
      case '!Split': {
        const [separator, source] = list(arg, tag);
        return text(resolve(source), tag).split(text(separator, tag));
      }
      case '!Join': {
        const [separator, items] = list(arg, tag);
        return list(resolve(items), tag)
          .map((item) => text(item, tag))
          .join(text(separator, tag));
      }
      case '!Select': {
        const [index, items] = list(arg, tag);
        const selected = list(resolve(items), tag)[Number(resolve(index))];
        if (selected === undefined) throw new Error(`!Select index ${JSON.stringify(index)} is out of range`);
        return selected;
      }
      default:
        throw new Error(`intrinsic ${tag} is not supported by this renderer`);
    }
  };

  for (const [name, condition] of Object.entries(template.Conditions ?? {})) {
    const value = resolve(condition);
    if (typeof value !== 'boolean') throw new Error(`condition ${name} is not a boolean`);
    conditions[name] = value;
  }
  const resources: Record<string, Record<string, unknown>> = {};
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Condition !== undefined && !conditions[resource.Condition]) continue;
    const properties = resolve(resource.Properties);
    if (!isRecord(properties)) throw new Error(`resource ${name} has no properties`);
    resources[name] = properties;
  }
  return { resources, parameters: values, conditions };
}
