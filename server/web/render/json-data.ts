import { trusted, type Html } from '../html.ts';

/**
 * Data for a page's external script, as `<script type="application/json">`: never executed (the
 * CSP allows no inline script anyway), and `<`, `>`, `&` and the JS line separators are written
 * as \u escapes, so no value can close the element or start a comment inside it.
 */
export function jsonData(id: string, data: unknown): Html {
  const json = JSON.stringify(data).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return trusted(`<script type="application/json" id="${id.replace(/[^a-z0-9-]/g, '')}">${json}</script>`);
}
