// Did-you-mean hints for unknown keys, jobs, params and datasets.

/** Levenshtein distance, O(a*b) with one row; inputs here are short keys. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    // Same word in another case, then an abbreviation (`prep` for `prepare`), then edit distance.
    const d = c === lower ? 0.5 : lower.length >= 3 && (c.startsWith(lower) || lower.startsWith(c)) ? 1 : levenshtein(lower, c);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === null) return null;
  const allowed = Math.max(2, Math.floor(Math.max(word.length, best.length) * 0.4));
  return bestDistance <= allowed ? best : null;
}

/** `; did you mean "x"?` or nothing: appended to messages about unknown names. */
export function suggestion(word: string, candidates: Iterable<string>): string {
  const s = didYouMean(word, candidates);
  return s === null ? '' : `; did you mean "${s}"?`;
}

