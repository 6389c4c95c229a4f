import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../infra/local/stack.ts';

/**
 * Dependencies point inwards (docs/architecture.md): the domain knows nothing of SDKs, I/O or the layers around it;
 * ports know the domain; use cases know ports and the domain; adapters implement ports and never call use cases;
 * the HTTP layer and the thin entry points reach the composition only where they must. Each import of each file
 * under src/ and functions/ is classified and checked against its layer's allow-list.
 */
type Layer = 'domain' | 'ports' | 'app' | 'adapters' | 'http' | 'config' | 'container' | 'cli' | 'tools' | 'functions';

const ALLOWED: Readonly<Record<Layer, { layers: readonly Layer[]; packages: RegExp }>> = {
  // valibot is the domain's one library (docs/adr/0005); node:crypto hashes, it does no I/O.
  domain: { layers: ['domain'], packages: /^(valibot|node:crypto)$/ },
  ports: { layers: ['domain', 'ports'], packages: /^$/ },
  app: { layers: ['domain', 'ports', 'app'], packages: /^(node:crypto)$/ },
  adapters: {
    layers: ['domain', 'ports', 'adapters'],
    packages: /^(@aws-sdk\/|@aws-lambda-powertools\/|@node-saml\/|@xmldom\/|jose$|node:)/,
  },
  http: {
    layers: ['domain', 'ports', 'app', 'http'],
    packages: /^(@middy\/|@aws-lambda-powertools\/logger(\/middleware)?$|aws-lambda$|node:)/,
  },
  config: { layers: ['domain', 'config'], packages: /^(valibot|node:crypto)$/ },
  container: { layers: ['domain', 'ports', 'app', 'adapters', 'config', 'container'], packages: /^(@aws-sdk\/|@aws-lambda-powertools\/)/ },
  cli: { layers: ['domain', 'cli'], packages: /^(jose$|valibot$|node:)/ },
  tools: { layers: ['domain', 'adapters', 'tools'], packages: /^(@aws-sdk\/|valibot$|yaml$|node:)/ },
  functions: { layers: ['container', 'http', 'domain'], packages: /^(aws-lambda)$/ },
};

function layerOf(file: string): Layer {
  const path = relative(ROOT, file);
  if (path.startsWith('functions/')) return 'functions';
  if (path === 'src/container.ts') return 'container';
  if (path === 'src/config.ts' || path === 'src/config-saml.ts') return 'config';
  const layer = path.split('/')[1];
  if (layer === undefined || !(layer in ALLOWED)) throw new Error(`${path} is in no known layer`);
  return layer as Layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Static and type-only imports and re-exports, and dynamic imports of string literals. */
function importsOf(text: string): string[] {
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]/gms)].map((m) => m[1] ?? '');
  const dynamic = [...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? '');
  return [...specifiers, ...dynamic];
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'functions'))]) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const ok = specifier.startsWith('.')
        ? allowed.layers.includes(layerOf(resolve(dirname(file), specifier)))
        : allowed.packages.test(specifier);
      if (!ok) found.push(`${relative(ROOT, file)} (${from}) imports ${specifier}`);
    }
  }
  return found;
}

/** Every import cycle among the files under src/ (type-only imports included: they couple the modules too). */
function cycles(): string[] {
  const graph = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    const local = importsOf(readFileSync(file, 'utf8'))
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(dirname(file), s));
    graph.set(file, local);
  }
  const found: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      found.push([...path.slice(path.indexOf(file)), file].map((f) => relative(ROOT, f)).join(' -> '));
      return;
    }
    state.set(file, 'visiting');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

describe('dependencies point inwards', () => {
  it('no module of src/ imports itself through others (no cycles)', () => {
    // Act + Assess
    expect(cycles()).toEqual([]);
  });

  it("no file imports across its layer's boundary", () => {
    // Act + Assess
    expect(violations()).toEqual([]);
  });

  it('the check sees a forbidden import (the test can fail)', () => {
    // Act
    const found = importsOf(
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nimport type { X } from '../adapters/x.ts';\nconst m = await import('./y.ts');",
    );

    // Assess
    expect(found).toEqual(['@aws-sdk/client-dynamodb', '../adapters/x.ts', './y.ts']);
    expect(ALLOWED.domain.packages.test('@aws-sdk/client-dynamodb')).toBe(false);
    expect(ALLOWED.domain.layers.includes('adapters')).toBe(false);
  });
});
