import { html, type Html } from './html.ts';

/**
 * Terminal output as HTML, safely: SGR codes (colours, bold, italic, underline) become spans with
 * classes (never inline styles, whatever the codes say); every other escape sequence and control
 * character is dropped; the text itself goes through the templates' escaping. A carriage return
 * keeps what the terminal would show: the text after it (progress bars).
 */
interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
}

const PLAIN: Style = { fg: null, bg: null, bold: false, italic: false, underline: false };
const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-?]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

function apply(style: Style, params: string): Style {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  const next = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    if (code === 0) Object.assign(next, PLAIN);
    else if (code === 1) next.bold = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 22) next.bold = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code >= 30 && code <= 37) next.fg = NAMES[code - 30]!;
    else if (code >= 90 && code <= 97) next.fg = `bright-${NAMES[code - 90]}`;
    else if (code === 39) next.fg = null;
    else if (code >= 40 && code <= 47) next.bg = NAMES[code - 40]!;
    else if (code >= 100 && code <= 107) next.bg = `bright-${NAMES[code - 100]}`;
    else if (code === 49) next.bg = null;
    else if (code === 38 || code === 48) {
      // 256-colour and true-colour: mapped to the nearest of the 16 only for the basic range, else dropped.
      const mode = codes[i + 1];
      const n = codes[i + 2];
      if (mode === 5 && n !== undefined && n < 16) {
        const name = n < 8 ? NAMES[n]! : `bright-${NAMES[n - 8]}`;
        if (code === 38) next.fg = name;
        else next.bg = name;
      }
      i += mode === 5 ? 2 : mode === 2 ? 4 : 1;
    }
  }
  return next;
}

function classes(style: Style): string {
  const out: string[] = [];
  if (style.fg) out.push(`ansi-${style.fg}`);
  if (style.bg) out.push(`ansi-bg-${style.bg}`);
  if (style.bold) out.push('ansi-bold');
  if (style.italic) out.push('ansi-italic');
  if (style.underline) out.push('ansi-underline');
  return out.join(' ');
}

/** Renders lines of a log, the style carrying over from line to line as in a terminal. */
export class AnsiRenderer {
  private style: Style = PLAIN;

  line(raw: string): Html {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const cr = text.lastIndexOf('\r');
    // What a carriage return overwrote is not shown, but its colour codes still count.
    if (cr >= 0) for (const m of text.slice(0, cr).matchAll(ESCAPE)) this.sgr(m);
    const shown = cr >= 0 ? text.slice(cr + 1) : text;
    const parts: Html[] = [];
    let last = 0;
    const push = (chunk: string) => {
      const clean = chunk.replace(CONTROL, '');
      if (clean === '') return;
      const cls = classes(this.style);
      parts.push(cls ? html`<span class="${cls}">${clean}</span>` : html`${clean}`);
    };
    ESCAPE.lastIndex = 0;
    for (let m = ESCAPE.exec(shown); m; m = ESCAPE.exec(shown)) {
      push(shown.slice(last, m.index));
      last = m.index + m[0].length;
      this.sgr(m);
    }
    push(shown.slice(last));
    return html`${parts}`;
  }

  private sgr(m: RegExpMatchArray): void {
    if (m[3] === 'm' && m[2] === '' && m[1] !== undefined && /^[0-9;:]*$/.test(m[1])) this.style = apply(this.style, m[1]);
  }
}
