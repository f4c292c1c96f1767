import { html, type Html } from '../html.ts';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign in required',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  422: 'Invalid input',
  429: 'Too many attempts',
  500: 'Something went wrong',
  503: 'Unavailable',
};

export function errorTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? TITLES[500]! : TITLES[400]!);
}

/** The status and a message that is safe to show (5xx messages name only the request id). */
export function errorPage(status: number, message: string): Html {
  return html`<section class="notice">
  <h1>${status} · ${errorTitle(status)}</h1>
  <p>${message}</p>
  <p><a href="/">Back to the start page</a></p>
</section>`;
}
