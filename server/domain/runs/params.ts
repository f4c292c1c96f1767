import type { ParamSpec, Scalar } from '../../../schema/manifest.ts';

export interface ResolvedParams {
  readonly values: Record<string, Scalar>;
  /** One sentence per bad or missing value, naming the param. */
  readonly problems: string[];
}

/**
 * Param values for a run: the schema's defaults, then the committed params file, then the
 * values given when the run was triggered (manual runs). Every value is checked against the
 * declared type and bounds; unknown names are problems, not silently ignored.
 */
export function resolveParams(
  schema: Record<string, ParamSpec> | undefined,
  layers: readonly { source: string; values: Record<string, unknown> }[],
): ResolvedParams {
  const specs = schema ?? {};
  const values: Record<string, Scalar> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) values[name] = spec.default;
  for (const layer of layers) {
    for (const [name, raw] of Object.entries(layer.values)) {
      const spec = specs[name];
      if (!spec) {
        problems.push(`${layer.source}: param "${name}" is not declared in params.schema`);
        continue;
      }
      const problem = checkValue(spec, raw);
      if (problem) problems.push(`${layer.source}: param "${name}" ${problem}`);
      else values[name] = raw as Scalar;
    }
  }
  for (const name of Object.keys(specs)) {
    if (!(name in values)) problems.push(`param "${name}" has no default and no value was given`);
  }
  return { values, problems };
}

function checkValue(spec: ParamSpec, raw: unknown): string | null {
  switch (spec.type) {
    case 'int':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return `must be an integer, got ${describe(raw)}`;
      return bounds(spec, raw);
    case 'float':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return `must be a finite number, got ${describe(raw)}`;
      return bounds(spec, raw);
    case 'string':
      if (typeof raw !== 'string') return `must be a string, got ${describe(raw)}`;
      return raw.length > 4096 ? 'is longer than 4096 characters' : null;
    case 'bool':
      return typeof raw === 'boolean' ? null : `must be true or false, got ${describe(raw)}`;
    case 'enum':
      return (spec.values ?? []).some((v) => v === raw) ? null : `must be one of ${(spec.values ?? []).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(raw)}`;
  }
}

function bounds(spec: ParamSpec, value: number): string | null {
  if (spec.min !== undefined && value < spec.min) return `must be >= ${spec.min}, got ${value}`;
  if (spec.max !== undefined && value > spec.max) return `must be <= ${spec.max}, got ${value}`;
  return null;
}

function describe(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
