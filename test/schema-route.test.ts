// GET /api/v1/schema/mlproject.json: the JSON Schema editors load, byte for byte the file the
// parser's Ajv compiles, cacheable and revalidated with its ETag.
import t from 'tap';
import fs from 'node:fs';
import { mlprojectSchema, schemaPath } from '../schema/manifest.ts';
import { startServer } from './helpers/server.ts';

t.test('the mlproject JSON Schema is served with caching headers', async (t) => {
  const server = await startServer(t, { database: 'pglite' });
  const url = `${server.url}/api/v1/schema/mlproject.json`;

  const first = await fetch(url);
  t.equal(first.status, 200);
  t.equal(first.headers.get('content-type'), 'application/schema+json; charset=utf-8');
  t.equal(first.headers.get('cache-control'), 'public, max-age=3600');
  const etag = first.headers.get('etag');
  t.match(etag, /^"[0-9a-f]{32}"$/);
  const text = await first.text();
  t.equal(text, fs.readFileSync(schemaPath, 'utf8'), 'the file itself');
  t.same(JSON.parse(text), mlprojectSchema, 'the JSON Ajv compiles');

  for (const header of [etag!, `W/${etag!}`, `"other", ${etag!}`, '*']) {
    const again = await fetch(url, { headers: { 'if-none-match': header } });
    t.equal(again.status, 304, `If-None-Match: ${header}`);
    t.equal(again.headers.get('etag'), etag);
    t.equal(await again.text(), '');
  }
  const changed = await fetch(url, { headers: { 'if-none-match': '"something-else"' } });
  t.equal(changed.status, 200);
  t.equal((await changed.text()).length, text.length);
});
