import { parse } from 'yaml';

/** What a model card's YAML front matter says, as far as the page shows it. */
export interface CardMeta {
  readonly license?: string;
  readonly library_name?: string;
  readonly pipeline_tag?: string;
  readonly base_model: readonly string[];
  readonly datasets: readonly string[];
  readonly tags: readonly string[];
}

export interface SplitCard {
  readonly body: string;
  readonly meta: CardMeta | null;
  /** Set when the front matter is there but is not a YAML mapping (the page shows a warning). */
  readonly error: string | null;
}

// Hugging Face model cards: `---` on the first line, YAML, `---` on a line of its own.
const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const MAX_LIST = 50;

/**
 * Splits front matter off by hand and parses it with `yaml` as plain data: never an engine that
 * evaluates front matter (gray-matter runs `---js` blocks), and never custom tags.
 */
export function splitFrontMatter(text: string): SplitCard {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { body: text, meta: null, error: null };
  const body = text.slice(match[0].length);
  let data: unknown;
  try {
    data = parse(match[1]!, { schema: 'core', maxAliasCount: 100, prettyErrors: false });
  } catch (err) {
    return { body, meta: null, error: `invalid YAML front matter: ${(err as Error).message.split('\n')[0]}` };
  }
  if (data === null || data === undefined) return { body, meta: null, error: null };
  if (typeof data !== 'object' || Array.isArray(data)) return { body, meta: null, error: 'the front matter is not a YAML mapping' };
  const record = data as Record<string, unknown>;
  return {
    body,
    meta: {
      license: scalar(record.license),
      library_name: scalar(record.library_name),
      pipeline_tag: scalar(record.pipeline_tag),
      base_model: list(record.base_model),
      datasets: list(record.datasets),
      tags: list(record.tags),
    },
    error: null,
  };
}

function scalar(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value).slice(0, 200) : undefined;
}

/** A field may be one value or a list of them (`datasets: mnist` or `datasets: [mnist, cifar]`). */
function list(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values.map(scalar).filter((v): v is string => v !== undefined).slice(0, MAX_LIST);
}
