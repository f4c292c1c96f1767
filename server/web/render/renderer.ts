import { trusted, type Html } from '../html.ts';
import { highlight, languageOf, splitLines } from './highlight.ts';
import { loadAllInBackground } from './lazy.ts';
import { LruCache } from './lru.ts';
import { renderMarkdown } from './markdown.ts';

// About 64 MB of rendered HTML (UTF-16): hot READMEs and files render once per server.
const CACHE_CHARS = 32 * 1024 * 1024;
const WARM_UP_DELAY_MS = 1000;
// Rendered once in the background: markdown-it's rules and sanitize-html's parser get compiled,
// and the grammar of the language model cards show code in most.
const WARM_UP_CARD = '# Model\n\n| metric | value |\n|---|---|\n| accuracy | 1 |\n\n```python\nmodel = load("x")\n```\n';

/**
 * Rendered markdown and highlighted code, cached by blob id: a blob's bytes never change, so the
 * id (plus how it was rendered) is a complete key and the cache needs no invalidation.
 */
export class Renderer {
  private readonly cache = new LruCache(CACHE_CHARS);
  private warming = false;

  /**
   * Loads the renderers' packages in the background, the first time it is called: a moment after
   * the server serves its first page. A server used only through git and the API never loads them
   * (its idle memory stays ~6-9 MB lower); one people browse does not make the first model card wait
   * for them. The moment is for the requests a page brings right behind it (its stylesheet and
   * script, the next click), which would otherwise wait for a package being loaded.
   */
  warmUpOnce(): void {
    if (this.warming) return;
    this.warming = true;
    setTimeout(() => loadAllInBackground(() => renderMarkdown(WARM_UP_CARD, '/')), WARM_UP_DELAY_MS).unref();
  }

  /** `base`: the blob URL of the file's directory, which relative links resolve against. */
  markdown(blobSha: string, text: string, base: string): Html {
    return trusted(this.cache.remember(`md\0${blobSha}\0${base}`, () => renderMarkdown(text, base)));
  }

  /** Highlighted lines of a file, each well-formed HTML on its own. */
  codeLines(blobSha: string, text: string, fileName: string): Html[] {
    const language = languageOf(fileName);
    const joined = this.cache.remember(`code\0${blobSha}\0${language ?? ''}`, () => splitLines(highlight(text, language)).join('\n'));
    return joined.split('\n').map(trusted);
  }
}
