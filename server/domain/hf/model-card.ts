import { parse } from 'yaml';

/** What the Hub derives from a model card's YAML front matter. */
export interface CardInfo {
  /** The whole front matter as data (the Hub's `cardData`), or null when there is none or it is not a mapping. */
  readonly cardData: Record<string, unknown> | null;
  readonly tags: string[];
  readonly libraryName: string | null;
  readonly pipelineTag: string | null;
}

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const MAX_CARD_BYTES = 256 * 1024;
const MAX_TAGS = 100;

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : null);
const texts = (value: unknown): string[] => (Array.isArray(value) ? value : [value]).map(text).filter((v): v is string => v !== null);

/**
 * Reads a README's front matter as plain data (YAML core schema, aliases capped: no custom tags,
 * no bombs). Tags as the Hub lists them: the card's `tags`, its library, task, license, languages,
 * datasets (`dataset:<id>`) and base models (`base_model:<id>`).
 */
export function cardInfo(readme: string | null): CardInfo {
  const none: CardInfo = { cardData: null, tags: [], libraryName: null, pipelineTag: null };
  if (!readme || readme.length > MAX_CARD_BYTES) return none;
  const match = FRONT_MATTER.exec(readme);
  if (!match) return none;
  let data: unknown;
  try {
    data = parse(match[1]!, { schema: 'core', maxAliasCount: 100, prettyErrors: false });
  } catch {
    return none;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return none;
  const card = data as Record<string, unknown>;
  const libraryName = text(card.library_name);
  const pipelineTag = text(card.pipeline_tag);
  const tags = [
    ...texts(card.tags),
    ...(libraryName ? [libraryName] : []),
    ...(pipelineTag ? [pipelineTag] : []),
    ...texts(card.license).map((l) => `license:${l}`),
    ...texts(card.language),
    ...texts(card.datasets).map((d) => `dataset:${d}`),
    ...texts(card.base_model).map((m) => `base_model:${m}`),
  ];
  return { cardData: card, tags: [...new Set(tags)].slice(0, MAX_TAGS), libraryName, pipelineTag };
}
