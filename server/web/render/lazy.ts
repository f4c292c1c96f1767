import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaders: (() => unknown)[] = [];

/**
 * A CommonJS package loaded on its first use instead of at start: the renderers' packages
 * (highlight.js with its grammars, markdown-it, sanitize-html) hold ~30 MB of the server's idle
 * memory otherwise, for pages that may never be opened. Synchronous, so the renderers stay so.
 */
export function loadOnFirstUse<T>(specifier: string): () => T {
  let loaded: T | undefined;
  const load = () => (loaded ??= require(specifier) as T);
  loaders.push(load);
  return load;
}

/**
 * Loads every package of loadOnFirstUse that is not loaded yet, then runs `after`: one step per
 * turn of the event loop, so a request that arrives meanwhile waits for one package (~20-70 ms on a
 * busy machine), not for all of them (~150 ms). A package that fails to load is left to its first
 * use, which fails the page that needs it with the error.
 */
export function loadAllInBackground(after: () => void): void {
  const steps = [...loaders, after];
  const next = () => {
    const step = steps.shift();
    if (!step) return;
    try {
      step();
    } catch {
      // Reported by the page that needs it (loadOnFirstUse tries again there).
    }
    setImmediate(next);
  };
  setImmediate(next);
}
