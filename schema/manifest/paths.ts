// Paths in a manifest are relative to the repository root and stay inside it.

const GLOB_CHARS = /[*?[{]/;

/** Why `p` is not an acceptable repository path (absolute, or climbing out with `..`), or null. */
export function pathProblem(p: string): string | null {
  if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('~')) {
    return `path ${JSON.stringify(p)} is absolute; paths are relative to the repository root`;
  }
  if (p.split(/[\\/]/).includes('..')) return `path ${JSON.stringify(p)} contains ".."; paths must stay inside the repository`;
  return null;
}

/** Literal directory prefix of a path or glob: `src/*.py` -> `src`, `data/` -> `data`, `a/b.txt` -> `a/b.txt`. */
export function literalPrefix(p: string): string {
  let s = p.replace(/^(\.\/)+/, '');
  const g = s.search(GLOB_CHARS);
  if (g >= 0) s = s.slice(0, s.lastIndexOf('/', g) + 1);
  return s.replace(/\/+$/, '');
}
