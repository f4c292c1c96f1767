// parseManifest: mlproject.yaml text in, the typed manifest or every issue out (mlproject.md,
// "Errors"). Never throws on bad input. Size is checked before the YAML parser sees a byte, and
// alias expansion is capped, so hostile files are refused quickly.
import { isAlias, isMap, isPair, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { Reporter } from './issues.ts';
import { getValidator } from './json-schema.ts';
import { isRecord } from './plain-data.ts';
import { reportSchemaError } from './schema-errors.ts';
import { checkSemantics } from './semantic-checks.ts';
import { Locator, rangeStart } from './source-locations.ts';
import { DEFAULT_FILE, DEFAULT_MAX_BYTES, DEFAULT_MAX_MATRIX_EXPANSIONS, MAX_ALIAS_COUNT, type Manifest, type ManifestIssue, type ParseOptions, type ParseResult } from './types.ts';

/** An error about the file as a whole (its kind or size): at 1:1, with no code frame. */
export function fileIssue(message: string, file: string = DEFAULT_FILE): ManifestIssue {
  return { file, line: 1, column: 1, path: '', message, severity: 'error', frame: '' };
}

/** The error for a manifest over the size limit; pre-receive reports it from the size alone, unread. */
export function tooLargeIssue(bytes: number, maxBytes: number = DEFAULT_MAX_BYTES, file: string = DEFAULT_FILE): ManifestIssue {
  return fileIssue(`manifest is ${bytes} bytes; the limit is ${maxBytes} bytes`, file);
}

/**
 * Parses and validates mlproject.yaml text. Never throws on bad input: every problem comes back
 * as an issue. `manifest` is set only when there are no errors.
 */
export function parseManifest(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? DEFAULT_FILE;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;

  // Size first, before the YAML parser sees a byte.
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    return { manifest: null, errors: [tooLargeIssue(Buffer.byteLength(text, 'utf8'), maxBytes, file)], warnings: [], data: null };
  }

  const lineCounter = new LineCounter();
  const r = new Reporter(text, file, lineCounter);
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, keepSourceTokens: false });

  let fatal = false;
  for (const e of doc.errors) {
    if (e.code === 'DUPLICATE_KEY') {
      const m = /^("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:\n]*?)\s*:(\s|$)/.exec(text.slice(e.pos[0], e.pos[0] + 1100));
      const key = (m?.[1] ?? '').replace(/^["']|["']$/g, '').trim();
      r.at(e.pos[0], '', key ? `duplicate key "${key}"` : 'duplicate key');
    } else {
      fatal = true;
      r.at(e.pos[0], '', `invalid YAML: ${e.message.split('\n')[0] ?? e.message}`);
    }
  }
  for (const w of doc.warnings) r.at(w.pos[0], '', w.message.split('\n')[0] ?? w.message, 'warning');
  if (fatal) {
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings, data: null };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const alias = firstAlias(doc);
    const detail = err instanceof Error ? err.message : String(err);
    r.at(alias ?? 0, '', `too many alias expansions (limit ${MAX_ALIAS_COUNT}); refusing a possible YAML bomb: ${detail}`);
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings, data: null };
  }

  const loc = new Locator(doc);
  if (data === null || data === undefined) {
    r.at(0, '', 'manifest is empty; expected a mapping with version, name and jobs');
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings, data: null };
  }

  const validate = getValidator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) reportSchemaError(e, r, loc);
  }
  if (isRecord(data)) {
    checkSemantics(data, text, r, loc, {
      maxMatrixExpansions: options.maxMatrixExpansions ?? DEFAULT_MAX_MATRIX_EXPANSIONS,
      treeHasPath: options.treeHasPath,
      treeName: options.treeName,
    });
  }

  r.sort();
  return { manifest: r.errors.length === 0 ? (data as Manifest) : null, errors: r.errors, warnings: r.warnings, data };
}

function firstAlias(doc: Document): number | null {
  let found: number | null = null;
  const visit = (node: unknown): void => {
    if (found !== null) return;
    if (isAlias(node)) {
      found = rangeStart(node) ?? null;
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) {
          visit(item.key);
          visit(item.value);
        } else visit(item);
      }
    }
  };
  visit(doc.contents);
  return found;
}
