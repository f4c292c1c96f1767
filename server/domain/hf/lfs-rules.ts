import { matchesGlob } from '../../../schema/manifest/globs.ts';

/**
 * Which files go to Git LFS, as the Hub decides in preupload: files that `.gitattributes` marks
 * `filter=lfs`, binary files (a NUL byte in the sample the client sends), and files of 10 MB or
 * more. Patterns follow gitattributes: without a `/` they match the file name in any folder.
 */
export const LFS_SIZE_THRESHOLD = 10 * 1024 * 1024;
const MAX_ATTRIBUTES_BYTES = 1024 * 1024;

export function lfsPatterns(gitattributes: string | null): string[] {
  if (!gitattributes || gitattributes.length > MAX_ATTRIBUTES_BYTES) return [];
  return gitattributes
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
    .filter(([, ...attributes]) => attributes.includes('filter=lfs'))
    .map(([pattern = '']) => pattern);
}

export function matchesLfsPattern(patterns: readonly string[], path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return patterns.some((pattern) => {
    const anchored = pattern.replace(/^\//, '');
    return pattern.includes('/') ? matchesGlob(anchored, path) : matchesGlob(pattern, name);
  });
}

export function goesToLfs(file: { path: string; size: number; sample: Buffer }, patterns: readonly string[]): boolean {
  return file.size >= LFS_SIZE_THRESHOLD || file.sample.includes(0) || matchesLfsPattern(patterns, file.path);
}

/** The `.gitattributes` line that makes git-lfs check a path out as its object (special characters escaped). */
export function lfsAttributeLine(path: string): string {
  const escaped = path.replace(/[\\[\]*?!# ]/g, (c) => (c === ' ' ? '[[:space:]]' : `\\${c}`));
  return `${escaped} filter=lfs diff=lfs merge=lfs -text`;
}

/** A Git LFS pointer file (git-lfs docs/spec.md). */
export function lfsPointer(oid: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;
}
