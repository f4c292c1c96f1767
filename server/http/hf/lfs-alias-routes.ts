// HF clients reach a dataset's Git LFS batch API under the Hub's `/datasets/` prefix
// ({hubUrl}/datasets/{repo}.git/info/lfs/objects/batch); mlgit serves LFS at {repo}.git/info/lfs
// for every kind. A 307 keeps the method, body and (same origin) Authorization header.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { repoNameFromUrl } from '../../domain/names.ts';
import { repoNotFound } from './hub-errors.ts';
import type { HubRepoParams } from './hub-repo.ts';

export async function registerLfsAliasRoutes(app: FastifyInstance): Promise<void> {
  await app.register(async (alias) => {
    // The body is read (it is small) and left: the client sends it again to the Location.
    alias.addContentTypeParser('application/vnd.git-lfs+json', { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 }, (_request, body, done) => done(null, body));
    registerAlias(alias);
  });
}

function registerAlias(app: FastifyInstance): void {
  app.post('/datasets/:owner/:repo/info/lfs/objects/batch', async (request: FastifyRequest<{ Params: HubRepoParams }>, reply) => {
    const owner = repoNameFromUrl(request.params.owner);
    const name = repoNameFromUrl(request.params.repo);
    if (!owner || !name || owner !== request.params.owner) throw repoNotFound();
    return reply.code(307).header('Location', `/${owner}/${name}.git/info/lfs/objects/batch`).send();
  });
}
