// Checks an object against the Kubernetes API types of the client library's version: every
// field must be one the API defines, with the API's type. The types come from
// @kubernetes/client-node's generated models (attributeTypeMap), which are generated from the
// Kubernetes OpenAPI document of that version. Not checked: required fields and enum values (the
// generated models do not carry them); see README "Kubernetes runtime".
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type Model = { getAttributeTypeMap(): Attribute[] };

const models = k8s as unknown as Record<string, Model | undefined>;

/** Problems of `value` as the API type `type` (e.g. 'V1Job'), each with its JSON path; empty when it fits. */
export function schemaProblems(value: unknown, type: string, at = '$'): string[] {
  if (value === undefined || value === null) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((item, i) => schemaProblems(item, array[1]!, `${at}[${i}]`)) : [`${at}: expected an array (${type})`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return isObject(value) ? Object.entries(value).flatMap(([key, item]) => schemaProblems(item, map[1]!, `${at}.${key}`)) : [`${at}: expected an object (${type})`];
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? [] : [`${at}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'Date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? [] : [`${at}: expected a date-time string`];
    case 'any':
      return [];
    case 'IntOrString':
      return typeof value === 'string' || Number.isInteger(value) ? [] : [`${at}: expected an integer or a string, got ${JSON.stringify(value)}`];
  }
  const model = models[type];
  if (!model || typeof model.getAttributeTypeMap !== 'function') return [`${at}: the schema has no type ${type}`];
  if (!isObject(value)) return [`${at}: expected an object (${type})`];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a]));
  return Object.entries(value).flatMap(([key, item]) => {
    const attribute = attributes.get(key);
    return attribute ? schemaProblems(item, attribute.type, `${at}.${key}`) : [`${at}.${key}: unknown field of ${type}`];
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
