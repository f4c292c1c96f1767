import type { HLJSApi } from 'highlight.js';
import path from 'node:path';
import { escapeHtml } from '../html.ts';
import { loadOnFirstUse } from './lazy.ts';

const highlightJs = loadOnFirstUse<HLJSApi>('highlight.js/lib/common');

// File extensions highlight.js does not map itself (it knows most by their alias).
const EXTRA_EXTENSIONS: Record<string, string> = { ipynb: 'json', jsonl: 'json', cfg: 'ini', toml: 'ini', mjs: 'javascript', cjs: 'javascript', tsx: 'typescript', yml: 'yaml' };
const NAMED_FILES: Record<string, string> = { dockerfile: 'dockerfile', makefile: 'makefile' };

/** The highlight.js language for a file name, or null (then the text is shown plain: no guessing, it is slow). */
export function languageOf(fileName: string): string | null {
  const base = path.posix.basename(fileName).toLowerCase();
  const named = NAMED_FILES[base];
  if (named) return named;
  const ext = path.posix.extname(base).slice(1);
  const language = EXTRA_EXTENSIONS[ext] ?? ext;
  return language && highlightJs().getLanguage(language) ? language : null;
}

/**
 * Highlighted HTML of `code` (highlight.js escapes every piece of text and emits only
 * `<span class="hljs-...">`), or the escaped text when the language is unknown.
 */
export function highlight(code: string, language: string | null): string {
  const hljs = highlightJs();
  if (language && hljs.getLanguage(language)) return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  return escapeHtml(code);
}

const TAG = /<span class="[^"]*">|<\/span>/g;

/**
 * Splits highlighted HTML into lines, closing the spans open at each line end and opening them
 * again on the next line (a multi-line comment), so every line is well-formed on its own and can
 * sit in its own table row with its own `#L<n>` anchor.
 */
export function splitLines(highlighted: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  for (const rawLine of highlighted.split('\n')) {
    let line = open.join('');
    let last = 0;
    for (const match of rawLine.matchAll(TAG)) {
      line += rawLine.slice(last, match.index) + match[0];
      last = match.index + match[0].length;
      if (match[0] === '</span>') open.pop();
      else open.push(match[0]);
    }
    line += rawLine.slice(last) + '</span>'.repeat(open.length);
    lines.push(line);
  }
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines;
}
