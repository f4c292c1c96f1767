// Turns Ajv's errors (instancePath, keyword, params) into issues a person can act on: the node's
// line and column, friendly wording, did-you-mean for unknown keys, and the `on:` trap.
import type { ErrorObject } from 'ajv';
import { formatPath, type Reporter, type Segment } from './issues.ts';
import { isRecord, typeName } from './plain-data.ts';
import type { Locator } from './source-locations.ts';
import { suggestion } from './suggestions.ts';

function pointerToSegments(pointer: string): Segment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

const PATTERN_MESSAGES: Record<string, (value: unknown) => string> = {
  duration: (v) => `invalid duration ${JSON.stringify(v)}; use a number with a unit s, m or h, such as 90s, 30m, 2h or 1h30m`,
  quantity: (v) => `invalid memory quantity ${JSON.stringify(v)}; use a positive number with a unit such as 512Mi or 8Gi`,
  projectName: (v) => `invalid project name ${JSON.stringify(v)}; use 1-64 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit`,
  jobId: (v) => `invalid job id ${JSON.stringify(v)}; use lowercase letters, digits, "_" and "-", starting with a letter`,
  identifier: (v) => `invalid name ${JSON.stringify(v)}; use letters, digits and "_", not starting with a digit`,
  datasetName: (v) => `invalid dataset name ${JSON.stringify(v)}; use letters, digits, "_" and "-", not starting with a digit`,
  envName: (v) => `invalid environment variable name ${JSON.stringify(v)}`,
  image: (v) => `invalid image reference ${JSON.stringify(v)}`,
  thresholdValue: (v) => `invalid threshold ${JSON.stringify(v)}; use a number or a percentage such as "2%"`,
};

function definitionName(schemaPath: string): string | null {
  const m = /^#\/definitions\/([^/]+)\//.exec(schemaPath);
  return m?.[1] ?? null;
}

export function reportSchemaError(e: ErrorObject, r: Reporter, loc: Locator): void {
  const segments = pointerToSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const at = [...segments, key];
      const parent = isRecord(e.parentSchema) ? e.parentSchema : {};
      const allowed = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
      let message: string;
      if (segments.length === 0 && (key === 'on' || key === 'true')) {
        message = `unknown key "${key}"; use "triggers:" instead (YAML 1.1 parsers such as PyYAML read a bare "on" key as true)`;
      } else {
        message = `unknown key "${key}"${suggestion(key, allowed)}`;
        if (!message.includes('did you mean') && allowed.length > 0 && allowed.length <= 12) {
          message += ` (allowed: ${allowed.join(', ')})`;
        }
      }
      r.at(loc.offset(at, 'key'), formatPath(at), message);
      return;
    }
    case 'propertyNames':
      return; // reported through the inner error, which carries the key
    case 'required': {
      const missing = String(params.missingProperty);
      const what = segments.length === 0 && missing === 'jobs' ? 'missing required key "jobs"; at least one job is required' : `missing required key "${missing}"`;
      r.at(loc.offset(segments), formatPath(segments), what);
      return;
    }
    case 'dependencies':
      r.at(loc.offset(segments), formatPath(segments), `"${String(params.property)}" requires "${String(params.missingProperty)}"`);
      return;
    case 'const':
      if (segments.length === 1 && segments[0] === 'version') {
        r.at(loc.offset(segments), 'version', `unsupported version ${JSON.stringify(e.data)}; supported versions: 1`);
        return;
      }
      break;
    case 'minProperties':
      if (segments.length === 1 && segments[0] === 'jobs') {
        r.at(loc.offset(segments), 'jobs', 'at least one job is required');
        return;
      }
      break;
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const hint = typeof e.data === 'string' ? suggestion(e.data, allowed) : '';
      r.at(loc.offset(segments), formatPath(segments), `${JSON.stringify(e.data)} is not one of ${allowed.join(', ')}${hint}`);
      return;
    }
    case 'type': {
      const last = segments[segments.length - 2];
      const isEnvValue = last === 'env' && segments.length >= 2;
      if (isEnvValue) {
        r.at(loc.offset(segments), formatPath(segments), `env values must be strings; quote it: ${String(segments[segments.length - 1])}: "${String(e.data)}"`);
        return;
      }
      const expected = Array.isArray(params.type) ? (params.type as string[]).join(' or ') : String(params.type);
      const friendly = expected.replace('array', 'list').replace('object', 'mapping');
      const msg = segments.length === 0 ? `manifest must be a mapping, got ${typeName(e.data)}` : `expected ${friendly}, got ${typeName(e.data)}`;
      r.at(loc.offset(segments), formatPath(segments), msg);
      return;
    }
    case 'pattern': {
      const def = definitionName(e.schemaPath);
      const render = def ? PATTERN_MESSAGES[def] : undefined;
      const isKey = e.propertyName !== undefined;
      const at = isKey ? [...segments, e.propertyName as string] : segments;
      const value = isKey ? e.propertyName : e.data;
      r.at(loc.offset(at, isKey ? 'key' : 'value'), formatPath(at), render ? render(value) : `${JSON.stringify(value)} ${e.message ?? 'is invalid'}`);
      return;
    }
    default:
      break;
  }
  const at = e.propertyName !== undefined ? [...segments, e.propertyName] : segments;
  r.at(loc.offset(at, e.propertyName !== undefined ? 'key' : 'value'), formatPath(at), e.message ?? `invalid (${e.keyword})`);
}

