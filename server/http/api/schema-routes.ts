import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { schemaPath } from '../../../schema/manifest.ts';
import { binary, errors, notModified } from './schemas/common.ts';

/**
 * The JSON Schema of mlproject.yaml for editors (`# yaml-language-server: $schema=<url>`): the
 * very file the parser's Ajv compiles, read once. It changes only with a server upgrade, so
 * clients cache it for an hour and then revalidate with its ETag.
 */
export function registerSchemaRoutes(app: FastifyInstance): void {
  const body = fs.readFileSync(schemaPath);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  const schema = {
    summary: 'The JSON Schema of mlproject.yaml (for editors)',
    response: { 200: binary('application/schema+json', 'The JSON Schema the manifest parser compiles'), 304: notModified, ...errors },
  };
  app.get('/api/v1/schema/mlproject.json', { schema }, async (request, reply) => {
    reply.header('ETag', etag).header('Cache-Control', 'public, max-age=3600');
    if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/schema+json; charset=utf-8').send(body);
  });
}

/** If-None-Match (RFC 9110 13.1.2): `*` or a list of tags, compared weakly. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}
