/**
 * True when a JSON text has an object with the same member name twice. `JSON.parse` keeps the last one,
 * while another component (a gateway authorizer, a log pipeline) may keep the first: `{"sub":"alice",
 * "sub":"admin"}` means different people to each. RFC 8725 §2.6. The text must already be valid JSON.
 */
export function hasDuplicateMembers(text: string): boolean {
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
      i++;
    } else if (ch === '[') {
      stack.push(null);
      expectKey = false;
      i++;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      expectKey = false;
      i++;
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
      i++;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) {
        // Compare decoded names: "s\u0075b" and "sub" are the same member.
        const name = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = stack[stack.length - 1];
        if (keys instanceof Set) {
          if (keys.has(name)) return true;
          keys.add(name);
        }
        expectKey = false;
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  return false;
}

/**
 * How deeply arrays and objects nest in a JSON text (strings skipped). Real claims sets nest two or three
 * levels; a token of `[[[[...]]]]` is refused before anything walks it (security catalog J-11).
 */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    } else if (ch === '{' || ch === '[') {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (ch === '}' || ch === ']') {
      depth--;
    }
  }
  return deepest;
}
