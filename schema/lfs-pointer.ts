/** The Git LFS pointer file format (git-lfs docs/spec.md): a small text blob naming the object. */

// A pointer is a small text blob; anything larger is not one.
export const MAX_POINTER_BYTES = 1024;
const LFS_POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n/;

/** The object a pointer names, or null when the text is not a pointer. */
export function parseLfsPointer(text: string): { oid: string; size: number } | null {
  if (text.length > MAX_POINTER_BYTES) return null;
  const match = LFS_POINTER.exec(text);
  return match ? { oid: match[1]!, size: Number(match[2]) } : null;
}
