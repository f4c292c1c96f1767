import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

// The UI's own files: one stylesheet, one small script, the chart script of the metrics page and the live log of the run page; read once at start.
const FILES = {
  'site.css': 'text/css; charset=utf-8',
  'site.js': 'text/javascript; charset=utf-8',
  'chart.js': 'text/javascript; charset=utf-8',
  'run-log.js': 'text/javascript; charset=utf-8',
} as const;
export type AssetName = keyof typeof FILES;

interface Asset {
  readonly url: string;
  readonly type: string;
  readonly body: Buffer;
}

/**
 * Served under content-hashed names (`/static/site.3f2a91c0.css`) with a year-long immutable cache:
 * a deploy changes the name, so browsers never run a stale script against a new page.
 */
export class Assets {
  private readonly byFile = new Map<string, Asset>();
  private readonly byName = new Map<AssetName, Asset>();

  constructor() {
    for (const [name, type] of Object.entries(FILES) as [AssetName, string][]) {
      const body = readFileSync(new URL(`./static/${name}`, import.meta.url));
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
      const file = name.replace(/\.(\w+)$/, `.${hash}.$1`);
      const asset = { url: `/static/${file}`, type, body };
      this.byFile.set(file, asset);
      this.byName.set(name, asset);
    }
  }

  url(name: AssetName): string {
    return this.byName.get(name)!.url;
  }

  register(app: FastifyInstance): void {
    app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
      const asset = this.byFile.get(request.params.file);
      if (!asset) return reply.callNotFound();
      return reply.type(asset.type).header('Cache-Control', 'public, max-age=31536000, immutable').send(asset.body);
    });
  }
}
