import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../domain/errors.ts';
import { cleanPath } from '../http/api/browse-routes.ts';
import type { Repo } from '../domain/model.ts';
import { baseUrl } from '../http/api/present.ts';
import type { Web } from './context.ts';
import type { CachedGitReads } from './git-reads.ts';
import { splitFrontMatter } from './render/front-matter.ts';
import type { Renderer } from './render/renderer.ts';
import { commitOf, findReadme, isMarkdown, lfsSizes, readFile } from './repo-content.ts';
import { cloneUrl, headerFor, readableRepo, type RepoParams } from './repo-pages.ts';
import { blobPage, emptyTreePage, type RefChoices, treePage } from './views/files.ts';
import { contentPath } from './views/parts.ts';

type ContentParams = RepoParams & { ref: string; '*'?: string };
type ContentRequest = FastifyRequest<{ Params: ContentParams; Querystring: { plain?: string } }>;

/** Raw bytes are data, never a page of this origin: a sandbox with nothing allowed, whatever the bytes say. */
const RAW_CSP = "default-src 'none'; sandbox";
/** The ref picker lists this many branches and as many tags (the form takes any other). */
const MAX_REFS_LISTED = 100;

/** Directory listings, file pages, raw files and downloads (LFS objects resolved). */
export function registerFileRoutes(app: FastifyInstance, web: Web, renderer: Renderer, gitReads: CachedGitReads): void {
  const { git, lfs, config } = web.deps;

  /** The repo, the commit the ref names and the path: or null when the URL is not a repository's. */
  async function locate(request: ContentRequest, readable?: Repo) {
    const repo = readable ?? (await readableRepo(web, request));
    if (!repo) return null;
    const path = cleanPath(request.params['*']);
    return { repo, path, ref: request.params.ref, commit: await commitOf(git, repo, request.params.ref) };
  }

  const tree = async (request: ContentRequest, reply: FastifyReply) => {
    const readable = await readableRepo(web, request);
    if (!readable) return reply.callNotFound();
    // Before the first push the default branch names nothing: the Files tab says how to push.
    if (!request.params['*'] && request.params.ref === readable.defaultBranch && (await git.resolveCommit(readable.id, readable.defaultBranch)) === null) {
      const page = emptyTreePage(await headerFor(web, request, reply, readable, 'files'), cloneUrl(web, request, readable));
      return web.page(request, reply, `Files · ${readable.owner}/${readable.name}`, page);
    }
    const at = await locate(request, readable);
    if (!at) return reply.callNotFound();
    const { repo, path, ref, commit } = at;
    const entries = await git.tree(repo.id, commit, path);
    if (!entries) {
      // A file's URL with /tree/ in it: show the file.
      if (path && (await git.blob(repo.id, commit, path).then((b) => (b?.content.destroy(), b !== null)))) return reply.redirect(contentPath(repo, 'blob', ref, path), 302);
      throw notFound(`path "${path}"`);
    }
    const readmeEntry = findReadme(entries);
    const [sizes, readmeFile] = await Promise.all([lfsSizes(git, repo.id, commit, entries), readmeEntry ? readFile(git, repo.id, commit, readmeEntry.path) : null]);
    const readme =
      readmeEntry && readmeFile?.kind === 'text' ? { name: readmeEntry.name, body: renderer.markdown(readmeFile.sha, splitFrontMatter(readmeFile.text).body, dirUrl(repo, ref, path)) } : null;
    const page = treePage({ header: await headerFor(web, request, reply, repo, 'files'), ref, path, entries, lfs: sizes, readme, refs: await refChoices(repo) });
    return web.page(request, reply, `${path || 'Files'} · ${repo.owner}/${repo.name} at ${ref}`, page);
  };
  app.get('/:owner/:repo/tree/:ref', tree);
  app.get('/:owner/:repo/tree/:ref/*', tree);

  app.get('/:owner/:repo/blob/:ref/*', async (request: ContentRequest, reply) => {
    const at = await locate(request);
    if (!at) return reply.callNotFound();
    const { repo, path, ref, commit } = at;
    const file = path ? await readFile(git, repo.id, commit, path) : null;
    if (!file) {
      if (await git.tree(repo.id, commit, path)) return reply.redirect(contentPath(repo, 'tree', ref, path), 302);
      throw notFound(`file "${path}"`);
    }
    const markdown = isMarkdown(path);
    const preview = markdown && file.kind === 'text' && request.query.plain !== '1';
    const page = blobPage({
      header: await headerFor(web, request, reply, repo, 'files'),
      ref,
      path,
      file,
      isMarkdown: markdown,
      preview: preview ? renderer.markdown(file.sha, splitFrontMatter(file.text).body, dirUrl(repo, ref, path.split('/').slice(0, -1).join('/'))) : null,
      lines: file.kind === 'text' && !preview ? renderer.codeLines(file.sha, file.text, path) : null,
      refs: await refChoices(repo),
      commit,
    });
    return web.page(request, reply, `${path} · ${repo.owner}/${repo.name} at ${ref}`, page);
  });

  // The file as git stores it (an LFS pointer stays a pointer): text as text/plain, anything else as an attachment.
  app.get('/:owner/:repo/raw/:ref/*', async (request: ContentRequest, reply) => {
    const at = await locate(request);
    if (!at) return reply.callNotFound();
    const file = at.path ? await readFile(git, at.repo.id, at.commit, at.path) : null;
    if (!file) throw notFound(`file "${at.path}"`);
    if (file.kind === 'text' || file.kind === 'lfs') return reply.header('Content-Security-Policy', RAW_CSP).type('text/plain; charset=utf-8').send(file.text);
    return sendBlob(reply, at.repo, at.commit, at.path);
  });

  // Downloads: the LFS object a pointer names (through the LFS service, which checks read access
  // again), or the file itself; always an attachment, never rendered in this origin.
  app.get('/:owner/:repo/resolve/:ref/*', async (request: ContentRequest, reply) => {
    const at = await locate(request);
    if (!at) return reply.callNotFound();
    const file = at.path ? await readFile(git, at.repo.id, at.commit, at.path) : null;
    if (!file) throw notFound(`file "${at.path}"`);
    if (file.kind !== 'lfs') return sendBlob(reply, at.repo, at.commit, at.path);
    const names = { owner: at.repo.owner, name: at.repo.name };
    const root = `${baseUrl(request, config.publicUrl)}/${at.repo.owner}/${at.repo.name}.git/info/lfs`;
    const batch = await lfs.batch(await web.principal(request), names.owner, names.name, { operation: 'download', objects: [{ oid: file.oid, size: file.objectSize }] }, () => ({
      object: (oid) => `${root}/objects/${oid}`,
      verify: `${root}/verify`,
    }));
    const answer = batch.objects[0];
    const action = answer?.actions?.download;
    if (!action) throw notFound(`the LFS object of "${at.path}" (it was never uploaded to this server)`);
    const own = /^RemoteAuth (.+)$/.exec(action.header?.Authorization ?? '');
    // A presigned store URL: the bytes come from the store, not through mlgit.
    if (!own) return reply.redirect(action.href, 302);
    const object = await lfs.download(names, file.oid, own[1]!);
    return attachment(reply, at.path, object.size).send(await object.open());
  });

  /** Branches and tags for the ref picker, a bounded number of each. */
  async function refChoices(repo: Repo): Promise<RefChoices> {
    const refs = await gitReads.refNames(repo);
    const named = (names: readonly string[]) =>
      [...names]
        .sort((a, b) => Number(b === repo.defaultBranch) - Number(a === repo.defaultBranch) || a.localeCompare(b))
        .slice(0, MAX_REFS_LISTED);
    return { branches: named(refs.branches), tags: named(refs.tags) };
  }

  // The ref picker's form: any branch, tag or SHA typed in, to the same file or folder there.
  app.get<{ Params: RepoParams; Querystring: { ref?: string; view?: string; path?: string } }>('/:owner/:repo/goto', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const ref = (request.query.ref ?? '').trim();
    await commitOf(git, repo, ref);
    const view = request.query.view === 'blob' ? 'blob' : 'tree';
    return reply.redirect(contentPath(repo, view, ref, cleanPath(request.query.path)), 302);
  });

  async function sendBlob(reply: FastifyReply, repo: Repo, commit: string, path: string) {
    const blob = await git.blob(repo.id, commit, path);
    if (!blob) throw notFound(`file "${path}"`);
    return attachment(reply, path, blob.size).send(blob.content);
  }
}

/** The blob URL of a directory, with the trailing slash relative links resolve against. */
function dirUrl(repo: Repo, ref: string, dir: string): string {
  return contentPath(repo, 'blob', ref, dir) + '/';
}

function attachment(reply: FastifyReply, path: string, size: number): FastifyReply {
  const name = path.split('/').at(-1) ?? 'download';
  return reply
    .header('Content-Security-Policy', RAW_CSP)
    .type('application/octet-stream')
    .header('Content-Length', String(size))
    .header('Content-Disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
}
