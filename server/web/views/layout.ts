import type { User } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';

/** What every page's frame needs to know about the request. */
export interface Frame {
  readonly viewer: User | null;
  /** The CSRF token of the session, for the sign-out form (set whenever someone is signed in). */
  readonly csrf: string | null;
  readonly signupOpen: boolean;
  readonly assets: { readonly css: string; readonly js: string };
  /** The search box's current text. */
  readonly query?: string;
}

/** The page frame: header with search and account links, the content, and the one script (deferred, external). */
export function layout(frame: Frame, title: string, content: Html): Html {
  const { viewer } = frame;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · mlgit</title>
<link rel="stylesheet" href="${frame.assets.css}">
<script src="${frame.assets.js}" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">mlgit</a>
  <form class="search" action="/explore" method="get" role="search">
    <label class="sr-only" for="q">Search repositories</label>
    <input id="q" type="search" name="q" placeholder="Search models and datasets" value="${frame.query ?? ''}">
  </form>
  <nav>
    <a href="/explore">Explore</a>
    ${viewer
      ? html`<a href="/new">New</a>
    <a href="/${viewer.username}">${viewer.username}</a>
    <a href="/settings/tokens">Settings</a>
    <form action="/logout" method="post"><input type="hidden" name="_csrf" value="${frame.csrf ?? ''}"><button class="link" type="submit">Sign out</button></form>`
      : html`<a href="/login">Sign in</a>${frame.signupOpen ? html` <a href="/signup">Sign up</a>` : ''}`}
  </nav>
</header>
<main>
${content}
</main>
<footer>mlgit · <a href="/api/docs">API</a></footer>
</body>
</html>
`;
}
