// Issues: where they are (file:line:col, YAML path), how they are collected (all of them, each
// once, sorted, capped) and how they are rendered (mlproject.md, "Errors": a header line, the
// source line and a caret).
import type { LineCounter } from 'yaml';
import type { ManifestIssue } from './types.ts';

const MAX_ISSUES = 100;
const MAX_FRAME_WIDTH = 160;

/** Renders one issue in the mlproject.md format: a header line, the source line and a caret. */
export function formatIssue(issue: ManifestIssue, file: string = issue.file): string {
  const where = issue.path ? `${issue.path}: ` : '';
  const head = `${file}:${issue.line}:${issue.column}: ${issue.severity}: ${where}${issue.message}`;
  return issue.frame ? `${head}\n${issue.frame}` : head;
}

/** One step of a YAML path: a mapping key or a list index. */
export type Segment = string | number;

/** `jobs.train.depends_on[0]`; keys that are not plain words are quoted: `env["A B"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Collects issues with their position and code frame; the same issue is kept once. */
export class Reporter {
  readonly errors: ManifestIssue[] = [];
  readonly warnings: ManifestIssue[] = [];
  private readonly seen = new Set<string>();
  private lineStarts: number[] | null = null;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly lineCounter: LineCounter | null,
  ) {}

  at(offset: number, path: string, message: string, severity: 'error' | 'warning' = 'error'): void {
    const { line, col } = this.linePos(offset);
    const key = `${severity}\0${line}\0${col}\0${path}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const issue: ManifestIssue = { file: this.file, line, column: col, path, message, severity, frame: this.frame(line, col) };
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }

  private linePos(offset: number): { line: number; col: number } {
    if (this.lineCounter) {
      const pos = this.lineCounter.linePos(offset);
      if (pos.line > 0) return pos;
    }
    return { line: 1, col: offset + 1 };
  }

  private frame(line: number, col: number): string {
    if (!this.lineStarts) this.lineStarts = this.lineCounter?.lineStarts ?? [0];
    const start = this.lineStarts[line - 1];
    if (start === undefined || start > this.text.length) return '';
    let end = this.text.indexOf('\n', start);
    if (end < 0) end = this.text.length;
    let source = this.text.slice(start, end).replace(/\r$/, '');
    let caretAt = col - 1;
    if (source.length > MAX_FRAME_WIDTH) {
      // Keep the caret visible on very long lines.
      const from = Math.max(0, Math.min(caretAt - MAX_FRAME_WIDTH / 2, source.length - MAX_FRAME_WIDTH));
      source = source.slice(from, from + MAX_FRAME_WIDTH);
      caretAt -= from;
    }
    // Keep tabs so the caret lines up with what the terminal shows.
    const pad = source.slice(0, caretAt).replace(/[^\t]/g, ' ').padEnd(caretAt, ' ');
    return `${source}\n${pad}^`;
  }

  sort(): void {
    const byPos = (a: ManifestIssue, b: ManifestIssue): number => a.line - b.line || a.column - b.column;
    this.errors.sort(byPos);
    this.warnings.sort(byPos);
    if (this.errors.length > MAX_ISSUES) {
      const more = this.errors.length - MAX_ISSUES;
      this.errors.length = MAX_ISSUES;
      const last = this.errors[MAX_ISSUES - 1];
      if (last) this.errors.push({ ...last, path: '', message: `too many errors; ${more} more not shown`, frame: '' });
    }
  }
}

