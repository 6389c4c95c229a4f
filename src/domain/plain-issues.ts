import type * as v from 'valibot';

type AnySchema = v.GenericSchema & {
  readonly wrapped?: AnySchema;
  readonly pipe?: readonly unknown[];
  readonly entries?: Readonly<Record<string, AnySchema>>;
  readonly item?: AnySchema;
  readonly options?: readonly AnySchema[];
};
type Issue = v.BaseIssue<unknown>;

const NOUNS: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  strict_object: 'a mapping',
  record: 'a mapping',
};

/**
 * Every problem valibot found in `input`, each as `path: what is wrong` in words a person writing YAML
 * understands ("owner: unknown field (allowed: id, description, …)", not "Invalid key: Expected never").
 * A message the schema spells out itself (a regex or check with a message) is kept as written.
 */
export function plainIssues(schema: v.GenericSchema, issues: readonly Issue[]): string[] {
  return issues.map((issue) => {
    const keys = (issue.path ?? []).map((item) => item.key);
    const path = keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
    const message = plainMessage(issue, schema as AnySchema, keys);
    return path ? `${path}: ${message}` : message;
  });
}

function plainMessage(issue: Issue, root: AnySchema, keys: readonly unknown[]): string {
  // valibot's own messages all start so; anything else was written for this schema and is already plain.
  if (!issue.message.startsWith('Invalid ')) return issue.message;
  const got = issue.received;
  const bound = (issue.expected ?? '').replace(/^[<>]=?/, '');
  const unit = Array.isArray(issue.input) ? (bound === '1' ? 'entry' : 'entries') : bound === '1' ? 'character' : 'characters';
  switch (issue.type) {
    case 'strict_object':
      if (issue.expected === 'never') {
        const parent = schemaAt(root, keys.slice(0, -1));
        const allowed = parent?.entries === undefined ? '' : ` (allowed: ${Object.keys(parent.entries).join(', ')})`;
        return `unknown field${allowed}`;
      }
      if (got === 'undefined') return 'required field missing';
      break;
    case 'picklist':
      return `must be one of ${(issue.expected ?? '')
        .replace(/^\(|\)$/g, '')
        .split(' | ')
        .join(', ')} (got ${got})`;
    case 'union': {
      const forms = (schemaAt(root, keys)?.options ?? []).map((option) => unwrap(option).entries);
      if (forms.every((entries) => entries !== undefined)) {
        return `must be one of: ${forms.map((entries) => `{${Object.keys(entries ?? {}).join(', ')}}`).join(' or ')}`;
      }
      return 'matches none of the allowed forms';
    }
    case 'integer':
      return `must be a whole number (got ${got})`;
    case 'min_value':
      return `must be at least ${bound} (got ${got})`;
    case 'max_value':
      return `must be at most ${bound} (got ${got})`;
    case 'min_length':
      return `must have at least ${bound} ${unit} (got ${got})`;
    case 'max_length':
      return `must have at most ${bound} ${unit} (got ${got})`;
    case 'regex':
      return `has the wrong format (got ${got})`;
  }
  const noun = NOUNS[issue.type];
  if (noun !== undefined && issue.kind === 'schema')
    return got === 'undefined' ? `missing: must be ${noun}` : `must be ${noun} (got ${got})`;
  return issue.message;
}

/** The object, array or union schema at `keys`, looking through optional and pipe wrappers. */
function schemaAt(root: AnySchema, keys: readonly unknown[]): AnySchema | undefined {
  let node: AnySchema | undefined = unwrap(root);
  for (const key of keys) {
    if (node === undefined) return undefined;
    node = node.entries !== undefined ? node.entries[String(key)] : node.item;
    node = node === undefined ? undefined : unwrap(node);
  }
  return node;
}

function unwrap(schema: AnySchema): AnySchema {
  let node = schema;
  for (;;) {
    if (node.wrapped !== undefined) node = node.wrapped;
    else if (node.pipe !== undefined && node.pipe[0] !== node) node = node.pipe[0] as AnySchema;
    else return node;
  }
}
