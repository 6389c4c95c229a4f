import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CFN_TAGS } from '../../../infra/local/dynamodb.ts';
import { ROOT } from '../../../infra/local/stack.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Files under `dir` (recursively) whose names end in one of `extensions`. */
const filesUnder = (dir: string, extensions: readonly string[]): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => extensions.some((ext) => file.endsWith(ext)))
    .map((file) => join(dir, file));
const sourceFiles = (dir: string): string[] => filesUnder(dir, ['.ts']);

/** serverless.yml as plain data (its CloudFormation tags parsed, then dropped). */
const serverless = JSON.parse(JSON.stringify(parse(read('serverless.yml'), { customTags: CFN_TAGS as never }))) as {
  functions: Record<string, { events?: { httpApi?: { method: string; path: string } }[] }>;
};
const routesOf = (fn: { events?: { httpApi?: { method: string; path: string } }[] }): string[] =>
  (fn.events ?? []).flatMap((e) => (e.httpApi === undefined ? [] : [`${e.httpApi.method.toUpperCase()} ${e.httpApi.path}`])).sort();

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
    for (const m of text.matchAll(
      /new (?:InvalidToken|NotEntitled|PolicyTooLarge|Throttled|UpstreamUnavailable|Internal)Error\('([a-z0-9_]+)'/g,
    ))
      reasons.add(m[1] ?? '');
    for (const m of text.matchAll(/reason: '([a-z0-9_]+)'/g)) reasons.add(m[1] ?? '');
  }
  return [...reasons].sort();
}

describe('docs/openapi.yaml and docs/errors.md against the code', () => {
  it('describes exactly the routes serverless.yml deploys', () => {
    // Prepare
    const deployed = Object.values(serverless.functions).flatMap(routesOf).sort();

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

  it('links only to files that exist from the top-level documents and the docs', () => {
    // Prepare
    const documents = [
      'README.md',
      'CONTRIBUTING.md',
      'CHANGELOG.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];

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

/**
 * Catalogue identifiers (J-01, P-08c, ...) cited in code, tests, infrastructure and the docs. The catalogue lives
 * outside the repository, so docs/security.md must define each one; vendored fixtures are data, not citations.
 */
const CATALOGUE_ID = /\b[A-Z]{1,2}-\d{2}[a-z]?\b/g;
const CODE = ['.ts', '.mjs', '.cjs', '.yaml', '.yml'];

function citedCatalogueIds(): Map<string, string[]> {
  const files = [
    ...['src', 'functions', 'infra', 'test']
      .flatMap((dir) => filesUnder(dir, CODE))
      .filter((file) => !file.startsWith(join('test', 'fixtures'))),
    'serverless.yml',
    ...filesUnder('docs', ['.md']),
  ];
  const citedIn = new Map<string, string[]>();
  for (const file of files) {
    for (const id of new Set(read(file).match(CATALOGUE_ID) ?? [])) citedIn.set(id, [...(citedIn.get(id) ?? []), file]);
  }
  return citedIn;
}

/** The number words the architecture overview counts its functions with. */
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

describe('docs/security.md and docs/architecture.md against the code', () => {
  it('defines in docs/security.md every security catalogue identifier the code, tests and docs cite', () => {
    // Prepare
    const defined = new Set([...read('docs/security.md').matchAll(/^\| ([A-Z]{1,2}-\d{2}[a-z]?) \|/gm)].map((m) => m[1]));

    // Act
    const cited = citedCatalogueIds();
    const undefinedIds = [...cited].filter(([id]) => !defined.has(id)).map(([id, files]) => `${id} (${files.join(', ')})`);

    // Assess
    expect([...cited.keys()]).toEqual(expect.arrayContaining(['J-01', 'S-07', 'P-08f', 'C-02', 'F-05']));
    expect(undefinedIds).toEqual([]);
  });

  it('names in docs/architecture.md exactly the functions serverless.yml deploys, with their routes and their number', () => {
    // Prepare
    const architecture = read('docs/architecture.md');
    const section = /^## Functions\n([\s\S]*?)^## /m.exec(architecture)?.[1] ?? '';
    const deployed = Object.fromEntries(Object.entries(serverless.functions).map(([name, fn]) => [name, routesOf(fn)]));

    // Act
    const documented = Object.fromEntries(
      [...section.matchAll(/^\| `([A-Za-z]+)` \| ([^|]*) \|/gm)].map((m) => [
        m[1] ?? '',
        [...(m[2] ?? '').matchAll(/`([A-Z]+ \/[^`]*)`/g)].map((r) => r[1]).sort(),
      ]),
    );
    const countWord = /Keyvend is (\w+) Lambda functions/.exec(architecture)?.[1];

    // Assess
    expect(Object.keys(deployed).length).toBeGreaterThan(0);
    expect(documented).toEqual(deployed);
    expect(countWord).toBe(NUMBER_WORDS[Object.keys(deployed).length]);
  });
});
