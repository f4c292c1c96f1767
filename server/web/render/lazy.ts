import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A CommonJS package loaded on its first use instead of at start: the renderers' packages
 * (highlight.js with its grammars, markdown-it, sanitize-html) hold ~30 MB of the server's idle
 * memory otherwise, for pages that may never be opened. Synchronous, so the renderers stay so.
 */
export function loadOnFirstUse<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
