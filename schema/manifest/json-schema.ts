// The JSON Schema of mlproject.yaml, the single source of truth for the manifest's shape: the
// parser validates with it, and the server serves the same file to editors.
import fs from 'node:fs';
import AjvModule, { type ErrorObject } from 'ajv';

export const schemaPath = new URL('../mlproject.schema.json', import.meta.url);
export const mlprojectSchema: Record<string, unknown> = JSON.parse(fs.readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;

export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

let validator: Validator | null = null;

/** Compiled once per process, on first use (compiling costs more than validating many manifests). */
export function getValidator(): Validator {
  if (!validator) {
    const Ajv = AjvModule.default;
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
    validator = ajv.compile(mlprojectSchema);
  }
  return validator;
}
