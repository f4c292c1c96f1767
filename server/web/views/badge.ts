import { html, type Html } from '../html.ts';

export type BadgeState = 'passing' | 'failing' | 'running' | 'unknown';

const COLOURS: Record<BadgeState, string> = { passing: '#2ea44f', failing: '#cf222e', running: '#dbab09', unknown: '#9f9f9f' };
const MAX_LABEL = 40;

/** Verdana 11px, roughly: narrow letters, wide letters, the rest (shields.io measures; this estimates). */
function textWidth(text: string): number {
  let width = 0;
  for (const c of text) width += /[ijlt.,:;'|!1 ]/.test(c) ? 3.6 : /[mwMW@%]/.test(c) ? 10 : /[A-Z]/.test(c) ? 7.6 : 6.6;
  return Math.ceil(width);
}

/** A shields.io-style "label | state" badge; the label is text (escaped), never markup. */
export function badgeSvg(rawLabel: string, state: BadgeState): Html {
  const label = [...rawLabel].length > MAX_LABEL ? `${[...rawLabel].slice(0, MAX_LABEL - 1).join('')}…` : rawLabel;
  const left = textWidth(label) + 12;
  const right = textWidth(state) + 12;
  const total = left + right;
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="20" role="img" aria-label="${label}: ${state}">
<title>${label}: ${state}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="${total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="${left}" height="20" fill="#555"/><rect x="${left}" width="${right}" height="20" fill="${COLOURS[state]}"/><rect width="${total}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="${left / 2}" y="15" fill="#010101" fill-opacity=".3">${label}</text><text x="${left / 2}" y="14">${label}</text>
<text x="${left + right / 2}" y="15" fill="#010101" fill-opacity=".3">${state}</text><text x="${left + right / 2}" y="14">${state}</text>
</g>
</svg>
`;
}
