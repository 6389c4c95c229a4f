import { posix } from 'node:path';

/**
 * The relative modules an esbuild ESM output file imports statically (`import{a as b}from"./x.mjs"`, `import"./x.mjs"`),
 * which Node loads with it; not `import("./x.mjs")`, which loads only when that code runs. Paths as written.
 */
export function staticImportsOf(code: string): string[] {
  const pattern = /(?:^|[;\s}])import\s*(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)?\s*(?:from\s*)?["'](\.{1,2}\/[^"']+)["']/g;
  return [...code.matchAll(pattern)].map((match) => match[1] ?? '');
}

/** `entry` and every file it loads statically, transitively, by path relative to the package root. */
export function staticClosure(entry: string, read: (path: string) => string): string[] {
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const specifier of staticImportsOf(read(path))) visit(posix.normalize(posix.join(posix.dirname(path), specifier)));
  };
  visit(entry);
  return [...seen];
}
