// Request and response pieces every REST route shares. Entities that appear in several answers
// (Error, Repo, User, Run) are registered once with app.addSchema (see openapi.ts) and referenced
// by `$ref`, so Ajv, fast-json-stringify and the OpenAPI document all read the same definition.

/** `{ error: { code, message } }`: what server/http/errors.ts sends for every failure. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every failure: a machine-readable code (invalid, unauthenticated, forbidden, not_found, conflict, ...) and a message for people.',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

export const ref = <Id extends string>(id: Id) => ({ $ref: `${id}#` }) as const;

/** The error answers every documented route may give (4xx from the domain or validation, 5xx unexpected). */
export const errors = { '4xx': ref('Error'), '5xx': ref('Error') } as const;

export const noContent = { type: 'null', description: 'No content' } as const;

/** A response that is not JSON (streams, files): documented by media type, never serialized. */
export function binary(mediaType: string, description: string) {
  return { description, content: { [mediaType]: { schema: { type: 'string', format: 'binary' } } } } as const;
}

/**
 * Query values arrive as strings (Ajv runs with coerceTypes false); the handlers parse and range-check
 * them so the messages stay the domain's ("per_page must be between 1 and 100").
 */
export const pageQueryProperties = {
  page: { type: 'string', description: 'Page number, from 1 (default 1). Pages are linked by the `Link` header; `X-Total-Count` has the total.' },
  per_page: { type: 'string', description: 'Items per page, 1 to 100 (default 30).' },
} as const;

export const pageQuery = { type: 'object', properties: pageQueryProperties } as const;

export const repoParamProperties = { owner: { type: 'string' }, name: { type: 'string' } } as const;
export const repoParams = { type: 'object', required: ['owner', 'name'], properties: repoParamProperties } as const;

/** Routes with `:owner/:name` plus one more path parameter. */
export function repoParamsWith<Extra extends Record<string, object>>(extra: Extra) {
  return { type: 'object', required: ['owner', 'name', ...Object.keys(extra)], properties: { ...repoParamProperties, ...extra } } as const;
}

/** `/*` routes: the rest of the path (a file path in a tree, an output name). */
export const wildcardParam = { '*': { type: 'string', description: 'A path inside the tree or run outputs' } } as const;

export const notModified = { type: 'null', description: 'Not Modified (the If-None-Match ETag still matches)' } as const;
