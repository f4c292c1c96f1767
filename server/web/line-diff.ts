/**
 * A line diff for small text files (mlproject.yaml, params.yaml on the compare page): the longest
 * common subsequence of the lines, after the common head and tail are set aside. Quadratic in the
 * differing middle, so callers cap the sizes: past `maxCells` the middle is shown as removed and
 * added whole (still a correct diff, only not a minimal one).
 */
export type DiffLine = { readonly op: 'same' | 'add' | 'del'; readonly text: string; readonly oldNo: number | null; readonly newNo: number | null };

export const MAX_DIFF_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export function diffLines(before: readonly string[], after: readonly string[], maxCells = MAX_DIFF_CELLS): DiffLine[] {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail++;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ op: 'same', text: before[i]!, oldNo: i + 1, newNo: i + 1 });
  let oldNo = head + 1;
  let newNo = head + 1;
  const n = a.length;
  const m = b.length;
  if (n * m > maxCells || n === 0 || m === 0) {
    for (const text of a) out.push({ op: 'del', text, oldNo: oldNo++, newNo: null });
    for (const text of b) out.push({ op: 'add', text, oldNo: null, newNo: newNo++ });
  } else {
    // lcs[i * (m + 1) + j]: length of the LCS of a[i..] and b[j..].
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) {
        out.push({ op: 'same', text: a[i]!, oldNo: oldNo++, newNo: newNo++ });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
        out.push({ op: 'del', text: a[i]!, oldNo: oldNo++, newNo: null });
        i++;
      } else {
        out.push({ op: 'add', text: b[j]!, oldNo: null, newNo: newNo++ });
        j++;
      }
    }
  }
  for (let k = before.length - tail; k < before.length; k++) out.push({ op: 'same', text: before[k]!, oldNo: oldNo++, newNo: newNo++ });
  return out;
}
