import type { Test } from 'tap';
import type { WebResponse } from './web-client.ts';

export const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
// Every tag the views themselves write; anything else in a page came from content.
const OWN_TAGS = new Set(
  'html head meta title link script body header a form label input button nav main footer section h1 h2 h3 h4 h5 h6 p span b strong em code pre div ul ol li table tbody thead tr th td img time article aside fieldset legend blockquote hr br del s select option textarea dl dt dd details summary'.split(
    ' ',
  ),
);
const ATTRIBUTE = /\s([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?/g;

/** Fails on anything in the page that could run: foreign tags, event handlers, script URLs, scripts other than the UI's own. */
export function assertInert(t: Test, page: WebResponse, what: string): void {
  const problems: string[] = [];
  for (const [tag, name = ''] of page.text.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^>]*)?>/g)) {
    const lower = name.toLowerCase();
    if (!OWN_TAGS.has(lower)) problems.push(`tag <${lower}>`);
    if (lower === 'script' && !/^<script src="\/static\/site\.[0-9a-f]+\.js" defer>$/.test(tag)) problems.push(`script ${tag}`);
    for (const [, attribute = '', quoted = ''] of tag.slice(name.length + 1).matchAll(ATTRIBUTE)) {
      const key = attribute.toLowerCase();
      if (key.startsWith('on')) problems.push(`event handler ${tag}`);
      if (key === 'style' || key === 'srcdoc' || key === 'formaction') problems.push(`attribute ${key} in ${tag}`);
      const value = quoted.replace(/^["']|["']$/g, '').replace(/&#x?[0-9a-f]+;?/gi, '').replace(/[\s\0]/g, '');
      if (['href', 'src', 'action'].includes(key) && /^(javascript|data|vbscript):/i.test(value)) problems.push(`script URL ${tag}`);
    }
  }
  t.same(problems, [], `${what}: nothing executable`);
  t.equal(page.headers.get('content-security-policy'), CSP, `${what}: CSP`);
  t.equal(page.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
}
