// Server-side highlighting loads each highlight.js grammar on first use (server/web/render/highlight.ts):
// it must highlight exactly as highlight.js/lib/common with every grammar loaded would, under every
// name and alias, embedded languages included, and know the same file extensions.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { HLJSApi, LanguageFn } from 'highlight.js';
import t from 'tap';
import { highlight, languageOf } from '../server/web/render/highlight.ts';

const require = createRequire(import.meta.url);

/** A highlight.js instance of its own with every grammar of lib/common, as lib/common registers them. */
function reference(): HLJSApi {
  const hljs = (require('highlight.js/lib/core') as HLJSApi).newInstance();
  const common = readFileSync(require.resolve('highlight.js/lib/common'), 'utf8');
  for (const [, name, file] of common.matchAll(/registerLanguage\('([\w-]+)', require\('\.\/languages\/([\w-]+)'\)\)/g)) {
    hljs.registerLanguage(name!, require(`highlight.js/lib/languages/${file}`) as LanguageFn);
  }
  return hljs;
}

const all = reference();
const expected = (code: string, language: string) => all.highlight(code, { language, ignoreIllegals: true }).value;

// First, while nothing is loaded yet: a grammar brings the ones it embeds.
t.test('embedded languages come with the grammar that embeds them', async (t) => {
  const page = '<!doctype html>\n<style>body { color: red }</style>\n<script>const x = `<b>${1}</b>`;</script>\n<p class="a">hi</p>\n';
  t.equal(highlight(page, 'html'), expected(page, 'html'), 'HTML with a script and a style');
  t.match(highlight(page, 'html'), /hljs-keyword">const</, 'the script is highlighted as JavaScript');
  const session = '>>> import os\n>>> os.getcwd()\n\'/\'\n';
  t.equal(highlight(session, 'pycon'), expected(session, 'pycon'), 'a python console');
  const shell = '$ echo "$HOME" | wc -c\n6\n';
  t.equal(highlight(shell, 'console'), expected(shell, 'console'), 'a shell session');
});

t.test('every name and alias of lib/common highlights as lib/common does', async (t) => {
  const code = 'def f(x):\n    return "<b>" + x  # a comment\nlet y = { a: 1 }; <tag attr="v"/>\n';
  let names = 0;
  for (const language of all.listLanguages()) {
    for (const name of [language, ...(all.getLanguage(language)!.aliases ?? [])]) {
      names++;
      t.equal(highlight(code, name), expected(code, name), name);
    }
  }
  t.ok(names > 100, `${names} names`);
  t.equal(highlight('<b>x</b>', 'no-such-language'), '&lt;b&gt;x&lt;/b&gt;', 'an unknown language: escaped text');
  t.equal(highlight('<b>x</b>', null), '&lt;b&gt;x&lt;/b&gt;', 'no language: escaped text');
});

t.test('file names: known extensions and names, nothing guessed', async (t) => {
  for (const [file, language] of [
    ['train.py', 'py'],
    ['src/model.TS', 'ts'],
    ['config.yml', 'yaml'],
    ['pyproject.toml', 'ini'],
    ['notebook.ipynb', 'json'],
    ['data.jsonl', 'json'],
    ['index.html', 'html'],
    ['Makefile', 'makefile'],
    ['run.sh', 'sh'],
  ] as const) {
    t.equal(languageOf(file), language, file);
    t.ok(all.getLanguage(language!), `${language} is a name lib/common knows`);
  }
  for (const file of ['Dockerfile', 'weights.bin', 'README', 'notes.unknownext']) t.equal(languageOf(file), null, file);
});
