// Uploads as the HF clients make them (huggingface_hub _commit_api.py, @huggingface/hub commit.ts):
// POST api/{type}s/{repo}/preupload/{revision} says which files go to Git LFS (the clients then use
// mlgit's LFS batch API at {repo}.git/info/lfs), and POST api/{type}s/{repo}/commit/{revision}
// takes the NDJSON commit, which lands through the push path (server/domain/hf/hub-commits.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseCommitRequest } from '../../domain/hf/commit-operations.ts';
import { CommitRefused, type HubCommits } from '../../domain/hf/hub-commits.ts';
import { goesToLfs, lfsPatterns } from '../../domain/hf/lfs-rules.ts';
import type { HubGit } from '../../domain/hf/ports.ts';
import { resolveRevision } from '../../domain/hf/revisions.ts';
import type { RepoKind } from '../../domain/model.ts';
import { startedRunLines } from '../../domain/runs/links.ts';
import { baseUrl } from '../api/present.ts';
import { repoUrl } from './account-routes.ts';
import { badRequest, HubError } from './hub-errors.ts';
import { hubRepo, type HubRepoDeps, type HubRepoParams } from './hub-repo.ts';

export interface UploadDeps extends HubRepoDeps {
  readonly hubGit: HubGit;
  readonly commits: HubCommits;
  readonly publicUrl: string | null;
}

type UploadRequest<B> = FastifyRequest<{ Params: HubRepoParams & { revision: string }; Querystring: { create_pr?: string }; Body: B }>;

// Inline (base64) contents are capped by the commit parser; the body around them by this.
const COMMIT_BODY_BYTES = 100 * 1024 * 1024;
const MAX_PREUPLOAD_FILES = 1000;
const MAX_SAMPLE = 1024;

const STATUS: Record<CommitRefused['reason'], { status: number; code?: 'RevisionNotFound' | 'EntryNotFound' }> = {
  parent_moved: { status: 412 },
  no_branch: { status: 404, code: 'RevisionNotFound' },
  no_entry: { status: 404, code: 'EntryNotFound' },
  missing_lfs: { status: 422 },
  conflict: { status: 422 },
  rejected: { status: 422 },
};

/** Pull requests are a Hub feature mlgit does not have: said plainly rather than committed to the branch. */
function refusePullRequests(request: UploadRequest<unknown>): void {
  const flag = request.query.create_pr;
  if (flag !== undefined && flag !== '0' && flag !== 'false') throw badRequest('create_pr is not supported by mlgit: commit to a branch (push it with git to open a review elsewhere)');
}

export function registerUploadRoutes(app: FastifyInstance, deps: UploadDeps): void {
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string', bodyLimit: COMMIT_BODY_BYTES }, (_request, body, done) => done(null, body));
  for (const [plural, kind] of [['models', 'model'], ['datasets', 'dataset']] as const) {
    app.post(`/api/${plural}/:owner/:repo/preupload/:revision`, (request: UploadRequest<unknown>) => preupload(deps, kind, request));
    app.post(`/api/${plural}/:owner/:repo/commit/:revision`, (request: UploadRequest<unknown>) => commit(deps, kind, request));
  }
}

async function preupload(deps: UploadDeps, kind: RepoKind, request: UploadRequest<unknown>) {
  refusePullRequests(request);
  const { repo } = await hubRepo(deps, request, kind, request.params, 'write');
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as { files?: unknown; gitAttributes?: unknown };
  if (!Array.isArray(body.files) || body.files.length > MAX_PREUPLOAD_FILES) throw badRequest(`files must be a list of at most ${MAX_PREUPLOAD_FILES} {path, size, sample}`);
  // The branch's own .gitattributes, unless the upload brings a new one.
  let attributes = typeof body.gitAttributes === 'string' ? body.gitAttributes : null;
  const head = attributes === null ? await resolveRevision(deps.hubGit, repo, request.params.revision) : null;
  if (head) {
    const entry = await deps.hubGit.entry(repo.id, head, '.gitattributes');
    if (entry?.type === 'file' && !entry.lfs && entry.size <= 1024 * 1024) attributes = (await deps.hubGit.readSmall(repo.id, entry.oid)).toString('utf8');
  }
  const patterns = lfsPatterns(attributes);
  const files = (body.files as { path?: unknown; size?: unknown; sample?: unknown }[]).map((file) => {
    if (typeof file?.path !== 'string' || typeof file.size !== 'number' || !Number.isSafeInteger(file.size) || file.size < 0) throw badRequest('each file needs a path and a size');
    const sample = typeof file.sample === 'string' ? Buffer.from(file.sample.slice(0, MAX_SAMPLE), 'base64') : Buffer.alloc(0);
    return { path: file.path, uploadMode: goesToLfs({ path: file.path, size: file.size, sample }, patterns) ? 'lfs' : 'regular', shouldIgnore: false };
  });
  return { files, commitOid: head };
}

async function commit(deps: UploadDeps, kind: RepoKind, request: UploadRequest<unknown>) {
  refusePullRequests(request);
  const { repo, principal } = await hubRepo(deps, request, kind, request.params, 'write');
  if (typeof request.body !== 'string') throw new HubError(415, 'the commit body is NDJSON (Content-Type: application/x-ndjson)');
  const parsed = parseCommitRequest(request.body);
  let made;
  try {
    made = await deps.commits.commit(principal!, repo, request.params.revision, parsed);
  } catch (err) {
    if (!(err instanceof CommitRefused)) throw err;
    const { status, code } = STATUS[err.reason];
    throw new HubError(status, [err.message, ...err.messages].join('\n'), code);
  }
  const base = baseUrl(request, deps.publicUrl);
  const hookOutput = startedRunLines(base, `${repo.owner}/${repo.name}`, made.runs);
  if (!made.complete) hookOutput.push('warning: mlgit could not finish recording this commit now; it has landed, and its runs will start when the service is back');
  return {
    success: true,
    commitOid: made.sha,
    commitUrl: `${repoUrl(base, repo)}/commit/${made.sha}`,
    commitMessage: parsed.summary,
    hookOutput: hookOutput.join('\n'),
    pullRequestUrl: null,
  };
}
