import type { HLJSApi, Language, LanguageFn } from 'highlight.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import { escapeHtml } from '../html.ts';
import { loadOnFirstUse } from './lazy.ts';

const require = createRequire(import.meta.url);
const highlightJs = loadOnFirstUse<HLJSApi>('highlight.js/lib/core');

/**
 * The grammars of highlight.js/lib/common with the other names each answers to (highlight.js's
 * own aliases; test/web-highlight checks them against the package). A grammar is loaded the first
 * time a file or code block needs it, with the ones it embeds: all of them at once hold ~6 MB and
 * take ~60 ms to load on a busy machine, a model card's python block needs one.
 */
const GRAMMARS: Record<string, readonly string[]> = {
  xml: ['html', 'xhtml', 'rss', 'atom', 'xjb', 'xsd', 'xsl', 'plist', 'wsf', 'svg'],
  bash: ['sh', 'zsh'],
  c: ['h'],
  cpp: ['cc', 'c++', 'h++', 'hpp', 'hh', 'hxx', 'cxx'],
  csharp: ['cs', 'c#'],
  css: [],
  markdown: ['md', 'mkdown', 'mkd'],
  diff: ['patch'],
  ruby: ['rb', 'gemspec', 'podspec', 'thor', 'irb'],
  go: ['golang'],
  graphql: ['gql'],
  ini: ['toml'],
  java: ['jsp'],
  javascript: ['js', 'jsx', 'mjs', 'cjs'],
  json: ['jsonc', 'json5'],
  kotlin: ['kt', 'kts', 'ktm', 'ktx'],
  less: [],
  lua: ['pluto'],
  makefile: ['mk', 'mak', 'make'],
  perl: ['pl', 'pm'],
  objectivec: ['mm', 'objc', 'obj-c', 'obj-c++', 'objective-c++'],
  php: [],
  'php-template': [],
  plaintext: ['text', 'txt'],
  python: ['py', 'gyp', 'ipython'],
  'python-repl': ['pycon'],
  r: [],
  rust: ['rs'],
  scss: [],
  shell: ['console', 'shellsession'],
  sql: [],
  swift: [],
  yaml: ['yml'],
  typescript: ['ts', 'tsx', 'mts', 'cts'],
  vbnet: ['vb'],
  wasm: [],
};
const GRAMMAR_OF = new Map(Object.entries(GRAMMARS).flatMap(([name, aliases]) => [name, ...aliases].map((n) => [n, name] as const)));

// File extensions highlight.js does not map itself (it knows most by their alias).
const EXTRA_EXTENSIONS: Record<string, string> = { ipynb: 'json', jsonl: 'json', cfg: 'ini', toml: 'ini', mjs: 'javascript', cjs: 'javascript', tsx: 'typescript', yml: 'yaml' };
const NAMED_FILES: Record<string, string> = { dockerfile: 'dockerfile', makefile: 'makefile' };

/** The highlight.js language for a file name, or null (then the text is shown plain: no guessing, it is slow). */
export function languageOf(fileName: string): string | null {
  const base = path.posix.basename(fileName).toLowerCase();
  const named = NAMED_FILES[base];
  if (named) return GRAMMAR_OF.has(named) ? named : null;
  const ext = path.posix.extname(base).slice(1);
  const language = EXTRA_EXTENSIONS[ext] ?? ext;
  return language && GRAMMAR_OF.has(language) ? language : null;
}

/**
 * Highlighted HTML of `code` (highlight.js escapes every piece of text and emits only
 * `<span class="hljs-...">`), or the escaped text when the language is unknown.
 */
export function highlight(code: string, language: string | null): string {
  const hljs = highlightJs();
  const grammar = language ? GRAMMAR_OF.get(language.toLowerCase()) : undefined;
  if (!language || !grammar) return escapeHtml(code);
  register(hljs, grammar);
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}

/** Registers a grammar of GRAMMARS and, first time only, those it embeds (HTML's scripts and styles, a console's shell). */
function register(hljs: HLJSApi, grammar: string): void {
  if (hljs.getLanguage(grammar)) return;
  hljs.registerLanguage(grammar, require(`highlight.js/lib/languages/${grammar}`) as LanguageFn);
  for (const embedded of subLanguages(hljs.getLanguage(grammar)!)) {
    const known = GRAMMAR_OF.get(embedded);
    if (known) register(hljs, known);
  }
}

/** The `subLanguage` names anywhere in a grammar's modes. */
function subLanguages(language: Language): Set<string> {
  const found = new Set<string>();
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || value instanceof RegExp || seen.has(value)) return;
    seen.add(value);
    for (const [key, child] of Object.entries(value)) {
      if (key === 'subLanguage') for (const name of [child].flat()) if (typeof name === 'string') found.add(name);
      walk(child);
    }
  };
  walk(language);
  return found;
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
