import type MarkdownIt from 'markdown-it';
import type sanitizeHtml from 'sanitize-html';
import { highlight } from './highlight.ts';
import { loadOnFirstUse } from './lazy.ts';

const markdownIt = loadOnFirstUse<typeof MarkdownIt>('markdown-it');
const sanitizer = loadOnFirstUse<typeof sanitizeHtml>('sanitize-html');

/**
 * Markdown as a hub must render it: no raw HTML (markdown-it escapes it with `html: false`), and
 * then an allow-list sanitiser over the output anyway, so a markdown-it bug or plugin can never
 * turn a README into script. Images only over http(s) or relative; links only http(s), mailto,
 * relative or fragments; no inline styles (the CSP forbids them anyway) and no ids a README could
 * use to clobber the page's own.
 */
let markdown: MarkdownIt | undefined;
function markdownEngine(): MarkdownIt {
  if (markdown) return markdown;
  const Engine = markdownIt();
  markdown = new Engine({
    html: false,
    linkify: true,
    highlight: (code, info) => `<pre class="hljs"><code>${highlight(code, info.trim().split(/\s+/)[0]?.toLowerCase() || null)}</code></pre>`,
  });
  // Deeply nested lists and quotes stop nesting at 20 levels instead of recursing on (markdown-it
  // honours the option; its type definitions do not list it).
  Object.assign(markdown.options, { maxNesting: 20 });
  return markdown;
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'ul', 'ol', 'li', 'a', 'img', 'code', 'pre', 'em', 'strong', 's', 'del', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span'],
  allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title'], ol: ['start'] },
  allowedClasses: { span: ['hljs-*'], pre: ['hljs'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'escape',
  transformTags: {
    // A README's links leave the hub: no referrer, no window.opener, no SEO credit for spam.
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'nofollow noopener noreferrer' } }),
  },
};

/**
 * Relative links of a README point into the repository: `base` is the blob URL of the directory
 * the file is in (`/owner/repo/blob/<ref>/dir/`), so `docs/x.md` opens as a file page.
 */
export function renderMarkdown(text: string, base: string): string {
  const engine = markdownEngine();
  const env = {};
  const tokens = engine.parse(text, env);
  rebaseLinks(tokens, base);
  return sanitizer()(engine.renderer.render(tokens, engine.options, env), SANITIZE);
}

type Token = ReturnType<MarkdownIt['parse']>[number];

function rebaseLinks(tokens: Token[], base: string): void {
  for (const token of tokens) {
    if (token.children) rebaseLinks(token.children, base);
    if (token.type !== 'link_open') continue;
    const href = token.attrGet('href');
    if (href && isRelative(href)) token.attrSet('href', new URL(href, `http://x${base}`).pathname + hashOf(href));
  }
}

/** Not absolute (scheme), not rooted, not protocol-relative, not a fragment of this page. */
function isRelative(href: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('/') && !href.startsWith('#');
}

function hashOf(href: string): string {
  const i = href.indexOf('#');
  return i < 0 ? '' : href.slice(i);
}
