// Narrowing helpers for the manifest as untyped data (checks run on documents that failed the schema too).

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The entries of a mapping, or none when the value is not one. */
export function entries(value: unknown): Array<[string, unknown]> {
  return isRecord(value) ? Object.entries(value) : [];
}

/** The string items of a list with their indexes; anything else yields none. */
export function strings(value: unknown): Array<[number, string]> {
  if (!Array.isArray(value)) return [];
  const out: Array<[number, string]> = [];
  value.forEach((v, i) => {
    if (typeof v === 'string') out.push([i, v]);
  });
  return out;
}

/** A YAML-flavoured type name for messages: list, mapping, integer... */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (isRecord(value)) return 'mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
