// `${{ name }}` templates in job commands become shell-quoted values (mlproject.md, "Templates":
// "Substituted values are shell-quoted"). A value is data, never code: whatever it contains
// (`$(...)`, backticks, quotes, newlines, `;`, globs, a leading `-`), /bin/sh sees one literal
// word. Quoting depends on where the template sits in the command, so the command is scanned
// with the POSIX quoting rules: unquoted, inside '...' and inside "..." are handled; places
// whose end a small scanner cannot find with certainty ($(...), `...`, ${...} with operators,
// here-documents, comments, after a backslash) are refused rather than guessed.

/** Where a template sits in the command text. */
export type ShellContext = 'plain' | 'single' | 'double';

export interface ShellTemplate {
  /** The trimmed expression between `${{` and `}}`. */
  expr: string;
  /** Offset of `${{` in the command. */
  index: number;
  /** The whole `${{ ... }}` text. */
  text: string;
  context: ShellContext;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    /** Offset in the command of what the message is about. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The runtime decides where outputs go: the command reads it from the environment. */
export const OUTPUT_DIR_VARIABLE = 'MLP_OUTPUT_DIR';

const TEMPLATE_START = '${{';
const SIMPLE_PARAMETER = /^\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])\}/;

/** POSIX single quoting: `it's` -> `'it'\''s'`. Nothing inside single quotes is special. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Finds every `${{ ... }}` in a shell command with the quoting context it sits in. Throws a
 * TemplateError for an unterminated template or one in a place it cannot be quoted safely.
 */
export function scanShellTemplates(command: string): ShellTemplate[] {
  const found: ShellTemplate[] = [];
  let context: ShellContext = 'plain';
  // Set once the scanner meets a construct whose end it does not track; later templates are refused.
  let untracked: string | null = null;
  let atWordStart = true;
  let i = 0;
  while (i < command.length) {
    if (command.startsWith(TEMPLATE_START, i)) {
      const end = command.indexOf('}}', i + TEMPLATE_START.length);
      if (end < 0) throw new TemplateError('unterminated template: "${{" without a closing "}}"', i);
      const text = command.slice(i, end + 2);
      if (untracked) {
        throw new TemplateError(`template ${text} comes after ${untracked}, where its value cannot be quoted safely; use its environment variable instead (such as "$MLP_PARAM_<NAME>")`, i);
      }
      found.push({ expr: text.slice(TEMPLATE_START.length, -2).trim(), index: i, text, context });
      i = end + 2;
      atWordStart = false;
      continue;
    }
    const c = command[i] ?? '';
    if (context === 'single') {
      if (c === "'") context = 'plain';
      i++;
      continue;
    }
    if (c === '\\') {
      // The escaped character is literal; an escaped `$` of a template would leave its quote escaped.
      if (command.startsWith(TEMPLATE_START, i + 1)) throw new TemplateError('a template cannot follow a backslash', i + 1);
      i += 2;
      atWordStart = false;
      continue;
    }
    if (c === '`') untracked ??= 'a `...` command substitution';
    if (c === '$') {
      const next = command[i + 1];
      if (next === '(') untracked ??= 'a $(...) command substitution';
      else if (next === '{') {
        const simple = SIMPLE_PARAMETER.exec(command.slice(i, i + 300));
        if (simple) {
          i += simple[0].length;
          atWordStart = false;
          continue;
        }
        untracked ??= 'a ${...} parameter expansion with operators';
      }
    }
    if (context === 'double') {
      if (c === '"') context = 'plain';
      i++;
      continue;
    }
    // Unquoted.
    if (c === "'") context = 'single';
    else if (c === '"') context = 'double';
    else if (c === '#' && atWordStart) untracked ??= 'a # comment';
    else if (c === '<' && command[i + 1] === '<') untracked ??= 'a here-document';
    atWordStart = /[\s;&|()<>]/.test(c);
    i++;
  }
  return found;
}

/** The text that puts `value` into the command as one literal word, given the quotes around it. */
function quotedIn(context: ShellContext, value: string): string {
  const quoted = shellQuote(value);
  if (context === 'single') return `'${quoted}'`; // close, quoted value, reopen
  if (context === 'double') return `"${quoted}"`;
  return quoted;
}

function outputDirIn(context: ShellContext): string {
  if (context === 'single') return `'"\${${OUTPUT_DIR_VARIABLE}}"'`;
  if (context === 'double') return `\${${OUTPUT_DIR_VARIABLE}}`;
  return `"\${${OUTPUT_DIR_VARIABLE}}"`;
}

/**
 * Replaces each `${{ name }}` of a job command with its value, shell-quoted for where it sits.
 * `outputs_dir` becomes a reference to $MLP_OUTPUT_DIR (the runtime decides the path). Unknown
 * names and unsafe places throw (the parser already rejects both at push).
 */
export function interpolate(template: string, values: Readonly<Record<string, string>>): string {
  let out = '';
  let last = 0;
  for (const t of scanShellTemplates(template)) {
    out += template.slice(last, t.index);
    if (t.expr === 'outputs_dir') out += outputDirIn(t.context);
    else if (Object.hasOwn(values, t.expr)) out += quotedIn(t.context, values[t.expr] ?? '');
    else throw new TemplateError(`unknown template ${t.text}: no value for "${t.expr}"`, t.index);
    last = t.index + t.text.length;
  }
  return out + template.slice(last);
}
