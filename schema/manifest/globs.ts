// Glob patterns for branch, tag and path filters (and protected branches): `*` and `?` stay
// within one path segment, `**` crosses `/`, and a leading `**/` (or `/**/` inside) also matches
// no directory at all. Everything else is literal. Matching simulates the pattern as an NFA, so
// it is O(pattern x value) whatever the pattern: no regular expression to backtrack on.

type Token = { t: 'lit'; c: string } | { t: 'star' } | { t: 'any' } | { t: 'one' } | { t: 'dirs' };

const MAX_CACHED = 500;
const compiled = new Map<string, Token[]>();

function tokenize(pattern: string): Token[] {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith('**/', i) && (i === 0 || pattern[i - 1] === '/')) {
      tokens.push({ t: 'dirs' });
      i += 3;
    } else if (pattern.startsWith('**', i)) {
      tokens.push({ t: 'any' });
      i += 2;
    } else if (pattern[i] === '*') {
      tokens.push({ t: 'star' });
      i++;
    } else if (pattern[i] === '?') {
      tokens.push({ t: 'one' });
      i++;
    } else {
      tokens.push({ t: 'lit', c: pattern[i] ?? '' });
      i++;
    }
  }
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(pattern, tokens);
  return tokens;
}

/** Adds state `i` and every state reachable from it without consuming a character. */
function addState(tokens: readonly Token[], states: Set<number>, i: number): void {
  while (!states.has(i)) {
    states.add(i);
    const token = tokens[i];
    // star, any and dirs may all match the empty string.
    if (!token || token.t === 'lit' || token.t === 'one') return;
    i++;
  }
}

/** Whether `value` (a branch, tag or path) matches `pattern` as a whole. */
export function matchesGlob(pattern: string, value: string): boolean {
  const tokens = tokenize(pattern);
  let states = new Set<number>();
  addState(tokens, states, 0);
  for (const ch of value) {
    const next = new Set<number>();
    for (const state of states) {
      // A negative state is "inside the `**/` token at -state - 1": it must end with a `/`.
      const i = state < 0 ? -state - 1 : state;
      const token = tokens[i];
      if (!token) continue;
      switch (token.t) {
        case 'lit':
          if (token.c === ch) addState(tokens, next, i + 1);
          break;
        case 'one':
          if (ch !== '/') addState(tokens, next, i + 1);
          break;
        case 'star':
          if (ch !== '/') addState(tokens, next, i);
          break;
        case 'any':
          addState(tokens, next, i);
          break;
        case 'dirs':
          // Any run of characters that ends with `/` (whole directories), or nothing (addState).
          next.add(-i - 1);
          if (ch === '/') addState(tokens, next, i + 1);
          break;
      }
    }
    if (next.size === 0) return false;
    states = next;
  }
  return states.has(tokens.length);
}

/** Whether any of `patterns` matches `value`. */
export function matchesAnyGlob(patterns: readonly string[], value: string): boolean {
  return patterns.some((pattern) => matchesGlob(pattern, value));
}

/**
 * Path filters: a pattern that matches a directory covers everything under it, so `data`,
 * `data/` and `data/**` all match `data/digits.csv`.
 */
export function pathMatchesGlob(pattern: string, path: string): boolean {
  const p = pattern.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (!p) return false;
  if (matchesGlob(p, path)) return true;
  for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
    if (matchesGlob(p, path.slice(0, slash))) return true;
  }
  return false;
}
