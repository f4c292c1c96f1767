import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { atLeast } from '../domain/access.ts';
import { invalid, notFound, unauthenticated } from '../domain/errors.ts';
import type { Repo } from '../domain/model.ts';
import { FINAL_STATUSES, type Run, type RunStatus } from '../domain/runs/model.ts';
import { AnsiRenderer } from './ansi.ts';
import type { Web } from './context.ts';
import type { CachedGitReads } from './git-reads.ts';
import { headerFor, readableRepo, type RepoParams, viewerLevel } from './repo-pages.ts';
import { FinishedLogWindows, logWindow, renderLines } from './run-log.ts';
import { repoPath } from './views/parts.ts';
import { runPage } from './views/run.ts';
import { runsPage, RUN_STATUSES } from './views/runs.ts';

const PER_PAGE = 50;
const MAX_PAGE = 10_000;
const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;
/** An SSE event carries at most this many bytes of log (a burst is sent as several events). */
const EVENT_BYTES = 64 * 1024;
const RAW_CSP = "default-src 'none'; sandbox";

type RunParams = RepoParams & { id: string };
type ListQuery = { status?: string; branch?: string; job?: string; commit?: string; page?: string };

function runId(raw: string): number {
  const id = Number(raw);
  if (!/^[0-9]{1,10}$/.test(raw) || !Number.isSafeInteger(id)) throw notFound('run');
  return id;
}

function byteOffset(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!/^[0-9]{1,15}$/.test(raw) || !Number.isSafeInteger(value)) throw invalid('the offset must be a whole number of bytes');
  return value;
}

/** The runs list, a run's page with its log, the live log (SSE), the raw log, outputs, cancel and re-run. */
export function registerRunPageRoutes(app: FastifyInstance, web: Web, gitReads: CachedGitReads): void {
  const { runs, repos, git, accounts } = web.deps;
  const { logs, lifecycle, dispatcher } = web.deps.runControl;
  const finishedLogs = new FinishedLogWindows();
  // Live streams end when the server shuts down (they would otherwise hold it open until their runs end).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  async function readableRun(request: FastifyRequest<{ Params: RunParams }>): Promise<{ repo: Repo; run: Run } | null> {
    const repo = await readableRepo(web, request);
    if (!repo) return null;
    return { repo, run: await runs.run(repo, runId(request.params.id)) };
  }

  /** The repo when the signed-in viewer may write to it (RepoService.authorize, as the API's cancel and POST runs). */
  async function writableRepo(request: FastifyRequest<{ Params: RunParams }>): Promise<Repo> {
    const principal = await web.principal(request);
    if (!principal) throw unauthenticated();
    return (await repos.authorize(principal, request.params.owner, request.params.repo, 'write')).repo;
  }

  app.get<{ Params: RepoParams; Querystring: ListQuery }>('/:owner/:repo/runs', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const q = request.query;
    const filter = {
      status: RUN_STATUSES.includes(q.status as (typeof RUN_STATUSES)[number]) ? q.status! : '',
      branch: q.branch?.trim().slice(0, 255) ?? '',
      job: q.job?.trim().slice(0, 255) ?? '',
      commit: q.commit && /^[0-9a-f]{4,40}$/.test(q.commit) ? q.commit : '',
    };
    const page = Math.min(MAX_PAGE, Math.max(1, Number.parseInt(q.page ?? '1', 10) || 1));
    const { runs: list, total } = await runs.list(
      repo,
      { ...(filter.status && { status: filter.status }), ...(filter.branch && { ref: filter.branch }), ...(filter.job && { job: filter.job }), ...(filter.commit && { commit: filter.commit }) },
      PER_PAGE,
      (page - 1) * PER_PAGE,
    );
    const branches = (await gitReads.refNames(repo)).branches.slice(0, 200);
    const view = runsPage({ header: await headerFor(web, request, reply, repo, 'runs'), filter, runs: list, total, page, perPage: PER_PAGE, branches, runLogJs: web.assets.url('run-log.js') });
    return web.page(request, reply, `Runs · ${repo.owner}/${repo.name}`, view);
  });

  // The statuses of some runs (at most a page of them), for the runs list's live marks.
  app.get<{ Params: RepoParams; Querystring: { id?: string | string[] } }>('/:owner/:repo/runs/statuses', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const raw = request.query.id === undefined ? [] : [request.query.id].flat();
    const ids = [...new Set(raw.filter((id) => /^[0-9]{1,10}$/.test(id)).map(Number))].slice(0, PER_PAGE);
    const found = await Promise.all(ids.map((id) => runs.run(repo, id).catch(() => null)));
    const statuses = found.filter((r): r is Run => r !== null).map((r) => ({ id: r.id, status: r.status, final: FINAL_STATUSES.includes(r.status) }));
    return reply.header('Cache-Control', 'private, no-cache').send({ runs: statuses });
  });

  app.get<{ Params: RunParams; Querystring: { log_end?: string } }>('/:owner/:repo/runs/:id', async (request, reply) => {
    const found = await readableRun(request);
    if (!found) return reply.callNotFound();
    const { repo } = found;
    const detail = await runs.detail(repo, found.run.id);
    const run = detail.run;
    const endAt = request.query.log_end === undefined ? null : byteOffset(request.query.log_end);
    const principal = await web.principal(request);
    let csrf: string | null = null;
    if (principal) {
      // The level readableRepo found (RepoService.authorize): no second look-up.
      const level = viewerLevel(request) ?? (await repos.authorize(principal, repo.owner, repo.name, 'read')).level;
      if (atLeast(level, 'write')) csrf = await web.csrf(request, reply);
    }
    const final = FINAL_STATUSES.includes(run.status);
    const [log, creator] = await Promise.all([
      final ? finishedLogs.window(logs, run.id, endAt) : logWindow(logs, run.id, endAt, true),
      run.createdBy === null ? null : accounts.userById(run.createdBy),
    ]);
    const view = runPage({
      header: await headerFor(web, request, reply, repo, 'runs'),
      run,
      creator: creator?.username ?? null,
      metrics: detail.metrics,
      outputs: detail.outputs,
      log,
      tail: endAt === null,
      csrf,
      runLogJs: web.assets.url('run-log.js'),
    });
    return web.page(request, reply, `Run #${run.id} ${run.job} · ${repo.owner}/${repo.name}`, view);
  });

  // The whole log as text, for download: data, never a page of this origin.
  app.get<{ Params: RunParams }>('/:owner/:repo/runs/:id/log', async (request, reply) => {
    const found = await readableRun(request);
    if (!found) return reply.callNotFound();
    const stream = await logs.read(found.run.id, 0);
    return reply
      .header('Content-Security-Policy', RAW_CSP)
      .header('Cache-Control', 'private, no-cache')
      .type('text/plain; charset=utf-8')
      .header('Content-Disposition', `inline; filename="run-${found.run.id}.log"`)
      .send(stream ?? '');
  });

  app.get<{ Params: RunParams & { '*': string } }>('/:owner/:repo/runs/:id/outputs/*', async (request, reply) => {
    const found = await readableRun(request);
    if (!found) return reply.callNotFound();
    const output = await runs.output(found.repo, found.run.id, request.params['*']);
    const name = output.type === 'dir' ? `${output.oid}.tar` : (request.params['*'].split('/').pop() ?? 'output');
    const body = await web.deps.runControl.store.get(output.oid);
    return reply
      .header('Content-Security-Policy', RAW_CSP)
      .type('application/octet-stream')
      .header('Content-Length', String(output.size))
      .header('X-Sha256', output.oid)
      .header('Content-Disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .send(body);
  });

  /**
   * The live log as Server-Sent Events: `log` events with whole lines rendered as the page renders
   * them (id = the byte offset after them, so a reconnect with Last-Event-ID resumes there),
   * `status` events when the run's status changes, and `end` once it is final and every byte is sent.
   */
  app.get<{ Params: RunParams; Querystring: { offset?: string } }>('/:owner/:repo/runs/:id/events', async (request, reply) => {
    const found = await readableRun(request);
    if (!found) return reply.callNotFound();
    const resume = request.headers['last-event-id'];
    const start = byteOffset(typeof resume === 'string' && resume !== '' ? resume : request.query.offset);
    return streamEvents(request, reply, found.repo, found.run, start);
  });

  async function streamEvents(request: FastifyRequest, reply: FastifyReply, repo: Repo, first: Run, start: number): Promise<FastifyReply> {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'private, no-cache',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
      'X-Request-Id': request.id,
    });
    let closed = false;
    res.on('close', () => (closed = true));
    const send = async (text: string) => {
      if (closed) return;
      if (!res.write(text)) await new Promise((resolve) => res.once('drain', resolve));
    };
    const renderer = new AnsiRenderer();
    let offset = start;
    let pending = Buffer.alloc(0);
    let status: RunStatus | null = null;
    let lastBeat = Date.now();
    const sendLines = async (bytes: Buffer, from: number, to: number) => {
      const lines = renderLines(bytes, from, renderer).map((l) => ({ o: l.offset, h: l.html.value }));
      await send(`id: ${to}\nevent: log\ndata: ${JSON.stringify({ offset: from, lines })}\n\n`);
    };
    try {
      await send('retry: 2000\n\n');
      let run = first;
      for (;;) {
        if (run.status !== status) {
          status = run.status;
          await send(`event: status\ndata: ${JSON.stringify({ status, message: run.message })}\n\n`);
        }
        const final = FINAL_STATUSES.includes(run.status);
        const stream = await logs.read(run.id, offset + pending.length);
        if (stream) {
          for await (const chunk of stream) {
            pending = Buffer.concat([pending, chunk as Buffer]);
            // Whole lines only, in events of a bounded size.
            for (let nl = pending.lastIndexOf(0x0a); nl >= 0; nl = pending.lastIndexOf(0x0a)) {
              const cut = nl + 1 <= EVENT_BYTES ? nl + 1 : pending.subarray(0, EVENT_BYTES).lastIndexOf(0x0a) + 1 || Math.min(EVENT_BYTES, pending.length);
              const part = pending.subarray(0, cut);
              pending = pending.subarray(cut);
              await sendLines(part.subarray(0, part.length - (part[part.length - 1] === 0x0a ? 1 : 0)), offset, offset + cut);
              offset += cut;
              if (closed) return reply;
            }
            if (pending.length >= EVENT_BYTES) {
              await sendLines(pending, offset, offset + pending.length);
              offset += pending.length;
              pending = Buffer.alloc(0);
            }
            if (closed) return reply;
          }
        }
        if (final && (await logs.size(run.id)) <= offset + pending.length) {
          if (pending.length > 0) await sendLines(pending, offset, offset + pending.length);
          await send(`event: end\ndata: ${JSON.stringify({ status: run.status })}\n\n`);
          break;
        }
        if (closed) return reply;
        if (closing) break;
        if (Date.now() - lastBeat > HEARTBEAT_MS) {
          await send(': keep-alive\n\n');
          lastBeat = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (closed) return reply;
        run = await runs.run(repo, run.id);
      }
    } catch (err) {
      request.log.warn({ err }, 'run events ended early');
    }
    res.end();
    return reply;
  }

  app.post<{ Params: RunParams }>('/:owner/:repo/runs/:id/cancel', async (request, reply) => {
    const repo = await writableRepo(request);
    await lifecycle.cancel(await runs.run(repo, runId(request.params.id)));
    return reply.redirect(repoPath(repo, 'runs', request.params.id), 303);
  });

  // A manual run of the same job at the same commit (on its branch when the branch is still there), as POST /api/v1/.../runs starts one.
  app.post<{ Params: RunParams }>('/:owner/:repo/runs/:id/rerun', async (request, reply) => {
    const repo = await writableRepo(request);
    const principal = (await web.principal(request))!;
    const run = await runs.run(repo, runId(request.params.id));
    const onBranch = run.ref !== null && (await git.resolveCommit(repo.id, run.ref)) === run.commitSha;
    const started = await dispatcher.dispatchManual(repo, principal.user.id, { ref: onBranch ? run.ref! : run.commitSha, jobs: [run.jobId] });
    const same = started.find((r) => r.job === run.job) ?? started.find((r) => r.jobId === run.jobId);
    return reply.redirect(same ? repoPath(repo, 'runs', String(same.id)) : `${repoPath(repo, 'runs')}?commit=${run.commitSha}`, 303);
  });
}
