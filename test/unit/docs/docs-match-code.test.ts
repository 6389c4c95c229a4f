import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CFN_TAGS } from '../../../infra/local/dynamodb.ts';
import { ROOT } from '../../../infra/local/stack.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const sourceFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));

const openapi = parse(read('docs/openapi.yaml')) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: { Error: { properties: { error: { enum: string[] } } } } };
};
const errorsDoc = read('docs/errors.md');

/** The codes of the error model: the ErrorCode union, and the codes the HTTP layer's own errors pass to super(). */
function errorCodes(): string[] {
  const union = /export type ErrorCode =([^;]+);/.exec(read('src/domain/errors.ts'))?.[1] ?? '';
  const fromModel = [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] ?? '');
  const fromHttp = sourceFiles('src/http').flatMap((file) => [...read(file).matchAll(/super\('([a-z_]+)'/g)].map((m) => m[1] ?? ''));
  return [...new Set([...fromModel, ...fromHttp])].sort();
}

/** Audit reasons written as literals: `new XError('reason'` and `{ reason: 'reason' }`. */
function literalReasons(): string[] {
  const reasons = new Set<string>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('functions')]) {
    const text = read(file);
    for (const m of text.matchAll(/new (?:InvalidToken|NotEntitled|PolicyTooLarge|Throttled|UpstreamUnavailable|Internal)Error\('([a-z0-9_]+)'/g)) reasons.add(m[1] ?? '');
    for (const m of text.matchAll(/reason: '([a-z0-9_]+)'/g)) reasons.add(m[1] ?? '');
  }
  return [...reasons].sort();
}

describe('docs/openapi.yaml and docs/errors.md against the code', () => {
  it('describes exactly the routes serverless.yml deploys', () => {
    // Prepare
    const yml = JSON.parse(JSON.stringify(parse(read('serverless.yml'), { customTags: CFN_TAGS as never }))) as {
      functions: Record<string, { events?: { httpApi?: { method: string; path: string } }[] }>;
    };
    const deployed = Object.values(yml.functions)
      .flatMap((f) => f.events ?? [])
      .flatMap((e) => (e.httpApi === undefined ? [] : [`${e.httpApi.method.toUpperCase()} ${e.httpApi.path}`]))
      .sort();

    // Act
    const documented = Object.entries(openapi.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();

    // Assess
    expect(deployed.length).toBeGreaterThan(0);
    expect(documented).toEqual(deployed);
  });

  it('lists every error code in errors.md and in the OpenAPI error enum, and no other', () => {
    // Act
    const codes = errorCodes();

    // Assess
    expect(codes).toEqual(expect.arrayContaining(['invalid_request', 'invalid_token', 'payload_too_large', 'unsupported_media_type']));
    expect([...openapi.components.schemas.Error.properties.error.enum].sort()).toEqual(codes);
    const documentedCodes = [...errorsDoc.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]).sort();
    expect(documentedCodes).toEqual(codes);
  });

  it('names every literal audit reason of the code in errors.md', () => {
    // Act
    const reasons = literalReasons();

    // Assess
    expect(reasons).toEqual(expect.arrayContaining(['no_matching_entitlement', 'token_in_query', 'audit_unavailable']));
    expect(reasons.filter((reason) => !errorsDoc.includes(`\`${reason}\``))).toEqual([]);
  });

  it('links only to files that exist from the README and the docs', () => {
    // Prepare
    const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

    // Act
    const missing = documents.flatMap((doc) =>
      [...read(doc).matchAll(/\]\(([^)#\s]+)\)/g)]
        .map((m) => m[1] ?? '')
        .filter((target) => !/^[a-z]+:/.test(target))
        .map((target) => join(doc.includes('/') ? 'docs' : '.', target))
        .filter((target) => !existsSync(join(ROOT, target))),
    );

    // Assess
    expect(missing).toEqual([]);
  });
});
