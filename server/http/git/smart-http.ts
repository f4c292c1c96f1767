// Git smart HTTP (gitprotocol-http(5), "Smart Clients" / "Smart Service git-upload-pack"):
// info/refs advertisement, then stateless-rpc POSTs piped through `git <service> --stateless-rpc`.
// The pack protocol itself is git's job; this module only authenticates, authorises and streams.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../config.ts';
import { meter, tagGitOperation } from '../../observability/meter.ts';
import { boundToActive, traceparentOf } from '../../observability/tracing.ts';
import { DomainError, notFound } from '../../domain/errors.ts';
import type { HookSessions } from '../../domain/hook-sessions.ts';
import type { PushOutbox } from '../../domain/push-outbox.ts';
import type { Principal, Repo } from '../../domain/model.ts';
import { repoNameFromUrl } from '../../domain/names.ts';
import type { GitBackend, GitProcess, GitService } from '../../domain/ports.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { Authenticate } from '../authenticate.ts';
import { sendError } from '../errors.ts';
import { isProtocolV2, sanitizeGitProtocol } from './git-protocol.ts';
import { GitTimeline } from './git-timeline.ts';
import { FLUSH, pktLine, pktLineProblem } from './pkt-line.ts';
import { postReceive } from './post-receive.ts';
import type { PushesInFlight, PushInFlight } from './pushes-in-flight.ts';
import { receivePackAnswer } from './receive-pack-answer.ts';
import { BadGitRequest, gitRequestBody, readWhole } from './request-body.ts';
import { Slots } from './slots.ts';
import { watchdog } from './watchdog.ts';

export interface GitHttpDeps {
  config: Config;
  repos: RepoService;
  git: GitBackend;
  hookSessions: HookSessions;
  /** Where the hook API finds a push's timeline and link base. */
  pushesInFlight: PushesInFlight;
  authenticate: Authenticate;
  /** Where hooks reach this process (loopback, known once the server listens). */
  hookUrl: () => string;
  /** Delivers a push's outbox rows once git has answered (post-receive). */
  outbox: PushOutbox;
}

type Params = { owner: string; repo: string };

const SERVICES: Record<string, GitService> = { 'git-upload-pack': 'upload-pack', 'git-receive-pack': 'receive-pack' };

export function registerGitRoutes(app: FastifyInstance, deps: GitHttpDeps): void {
  const slots = new Slots();
  const { config } = deps;

  // Keep git request bodies as streams: they are piped to git, never parsed or buffered here.
  app.addContentTypeParser(['application/x-git-upload-pack-request', 'application/x-git-receive-pack-request'], (_req, _payload, done) => done(null));

  async function resolveRepo(
    request: FastifyRequest<{ Params: Params }>,
    service: GitService,
    timeline: GitTimeline,
  ): Promise<{ repo: Repo; principal: Principal | null }> {
    const name = repoNameFromUrl(request.params.repo);
    const owner = repoNameFromUrl(request.params.owner);
    if (!name || !owner || owner !== request.params.owner) throw notFound('repository');
    const principal = await deps.authenticate(request);
    timeline.mark('auth');
    // Every push needs credentials, even to a public repo: anonymous -> 401 so git asks for them.
    const { repo } = await deps.repos.authorize(principal, owner, name, service === 'receive-pack' ? 'write' : 'read');
    timeline.mark('authorize');
    return { repo, principal };
  }

  function acquireSlots(request: FastifyRequest, repo: Repo): () => void {
    const repoKey = `repo:${repo.id}`;
    const clientKey = `client:${request.ip}`;
    if (!slots.tryAcquire(repoKey, config.git.maxPerRepo)) {
      meter().gitSlotRefused('repo');
      throw new DomainError('rate_limited', 'too many git operations on this repository; retry shortly', 5);
    }
    if (!slots.tryAcquire(clientKey, config.git.maxPerClient)) {
      meter().gitSlotRefused('client');
      slots.release(repoKey);
      throw new DomainError('rate_limited', 'too many concurrent git operations from your address; retry shortly', 5);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slots.release(repoKey);
      slots.release(clientKey);
    };
  }

  app.get<{ Params: Params; Querystring: { service?: string } }>('/:owner/:repo/info/refs', async (request, reply) => {
    const service = SERVICES[request.query.service ?? ''];
    if (!service) {
      // Dumb HTTP would serve repository files directly; mlgit speaks only the smart protocol.
      return sendError(reply, 403, 'dumb_http_unsupported', 'the dumb HTTP protocol is not supported; use a git client >= 1.6.6 (smart HTTP)');
    }
    const timeline = new GitTimeline();
    const { repo } = await resolveRepo(request, service, timeline);
    const release = acquireSlots(request, repo);
    const protocol = sanitizeGitProtocol(request.headers['git-protocol']);
    const child = deps.git.spawn(repo.id, service, { advertise: true, protocol, env: {} });
    child.stdin.end();
    // With protocol v2 git's http-backend omits the "# service=" preamble; v2 is upload-pack only.
    const v2 = service === 'upload-pack' && isProtocolV2(protocol);
    const preamble = v2 ? [] : [pktLine(`# service=git-${service}\n`), FLUSH];
    const done = () => {
      release();
      logTimings(request, `${service} advertisement`, timeline, 'git');
    };
    return streamGit(request, reply, child, `application/x-git-${service}-advertisement`, done, preamble);
  });

  for (const [route, service] of Object.entries(SERVICES)) {
    app.post<{ Params: Params }>(`/:owner/:repo/${route}`, async (request, reply) => {
      const timeline = new GitTimeline();
      const { repo, principal } = await resolveRepo(request, service, timeline);
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== `application/x-git-${service}-request`) {
        throw new DomainError('unsupported_media_type', `expected Content-Type application/x-git-${service}-request`);
      }
      const release = acquireSlots(request, repo);
      try {
        return service === 'upload-pack'
          ? await uploadPack(request, reply, repo, release)
          : await receivePack(request, reply, repo, principal!, release, timeline);
      } catch (err) {
        release();
        throw err;
      }
    });
  }

  async function uploadPack(request: FastifyRequest, reply: FastifyReply, repo: Repo, release: () => void) {
    const body = await readWhole(gitRequestBody(request.raw, config.git.maxUploadRequestBytes, 'fetch negotiation'));
    const problem = pktLineProblem(body);
    if (problem) throw new BadGitRequest(`malformed git request: ${problem}`);
    // Requests that want objects are fetches (not ls-refs); those naming no commit the client
    // has ("have" lines) are clones (gitprotocol-pack(5), gitprotocol-v2(5)).
    if (body.includes('want ')) tagGitOperation(request.raw, body.includes('have ') ? 'fetch' : 'clone');
    const protocol = sanitizeGitProtocol(request.headers['git-protocol']);
    const child = deps.git.spawn(repo.id, 'upload-pack', { advertise: false, protocol, env: {} });
    child.stdin.end(body);
    return streamGit(request, reply, child, 'application/x-git-upload-pack-result', release);
  }

  async function receivePack(request: FastifyRequest, reply: FastifyReply, repo: Repo, principal: Principal, release: () => void, timeline: GitTimeline) {
    const { user } = principal;
    tagGitOperation(request.raw, 'push');
    // Before spawning: an unsupported Content-Encoding throws here, and must not leave a git
    // process waiting forever on a stdin nobody will write (nor an open hook session).
    const body = gitRequestBody(request.raw, config.git.maxPushBytes, 'push');
    const secret = deps.hookSessions.open({ repoId: repo.id, pusherId: user.id });
    const traceparent = traceparentOf();
    const inFlight: PushInFlight = { timeline, baseUrl: config.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`, repo };
    deps.pushesInFlight.open(secret, inFlight);
    const child = deps.git.spawn(repo.id, 'receive-pack', {
      advertise: false,
      protocol: null,
      env: {
        MLGIT_HOOK_URL: deps.hookUrl(),
        MLGIT_HOOK_SECRET: secret,
        // Reflog entries name the authenticated pusher.
        GIT_COMMITTER_NAME: user.username,
        GIT_COMMITTER_EMAIL: user.email ?? `${user.username}@mlgit.invalid`,
        // The hooks forward it, so their calls are children of this push's span.
        ...(traceparent ? { TRACEPARENT: traceparent } : {}),
      },
    });
    pipeline(body, child.stdin).catch((err: unknown) => {
      request.log.info({ err: (err as Error).message }, 'push body ended early');
      child.kill();
    });
    let ended = false;
    // The push stays in flight (the reconciler leaves its rows alone) until post-receive is over.
    const end = () => {
      if (ended) return;
      ended = true;
      deps.hookSessions.close(secret);
      deps.pushesInFlight.close(secret);
      logTimings(request, 'receive-pack', timeline, 'answer');
    };
    reply.raw.once('close', end);
    // In the push request's trace context: the stream's callbacks run in the git process's.
    const afterReceive = boundToActive(async (updatedRefs: ReadonlySet<string> | null) => {
      timeline.mark('git.after-pre-receive');
      try {
        return await postReceive(deps.outbox, secret, inFlight, updatedRefs);
      } finally {
        timeline.mark('post-receive');
        end();
      }
    });
    const answer = (stdout: Readable) => receivePackAnswer(stdout, afterReceive);
    return streamGit(request, reply, child, 'application/x-git-receive-pack-result', release, [], body, answer);
  }

  /**
   * Sends git's stdout with backpressure. Headers wait for git's first byte: a request git
   * rejects before answering (malformed input) becomes a clean 400 instead of an empty 200.
   */
  async function streamGit(
    request: FastifyRequest,
    reply: FastifyReply,
    child: GitProcess,
    contentType: string,
    onExit: () => void,
    preamble: Buffer[] = [],
    input?: Readable,
    answer: (stdout: Readable) => Readable = (stdout) => stdout,
  ) {
    const socket = request.raw.socket;
    const bytesMoved = () => socket.bytesRead + socket.bytesWritten;
    const dog = watchdog({ idleMs: config.git.idleTimeoutMs, totalMs: config.git.totalTimeoutMs }, bytesMoved, (reason) => {
      request.log.warn({ reason }, 'git process timed out; killing it');
      child.kill();
    });
    // A client that disconnects must not leave git running.
    reply.raw.on('close', () => child.kill());
    child.exited.then(({ code, stderr }) => {
      dog.stop();
      onExit();
      if (code !== 0) request.log.info({ code, stderr: stderr.slice(-500) }, 'git exited with an error');
    });

    const first = await firstChunk(child);
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      // What git http-backend sends (and git's t5551 checks): no cache, HTTP/1.0 proxies included,
      // may keep a ref advertisement or a pack answer.
      'Cache-Control': 'no-cache, max-age=0, must-revalidate',
      Pragma: 'no-cache',
      Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
    };
    // git answered without reading the whole body (e.g. commands ended by a flush, then garbage):
    // close the connection afterwards instead of leaving the unread rest of the body on it.
    if (!request.raw.complete) headers.Connection = 'close';
    if (first === null) {
      const { code, stderr } = await child.exited;
      // e.g. the `0000` probe git sends before a large push: nothing to say, all is well.
      if (code === 0) return reply.headers(headers).send(Buffer.concat(preamble));
      const message = (stderr.split('\n').find((l) => l.startsWith('fatal:')) ?? 'git rejected the request').replace(/^fatal:\s*/, '');
      // The body itself was refused (over its cap, not gzip): say so rather than what git saw of it.
      const bodyError = input?.errored;
      if (bodyError instanceof DomainError || bodyError instanceof BadGitRequest) throw bodyError;
      return sendError(reply, 400, 'bad_git_request', `malformed git request: ${message}`);
    }
    // Put the peeked bytes back and hand git's stdout to Fastify as is: one pipe, with backpressure.
    child.stdout.unshift(preamble.length ? Buffer.concat([...preamble, first]) : first);
    return reply.headers(headers).send(answer(child.stdout));
  }
}

/** Resolves with git's first stdout chunk, or null when it exits without writing any. */
function firstChunk(child: GitProcess): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const onReadable = () => {
      const chunk = child.stdout.read() as Buffer | null;
      if (chunk !== null) {
        cleanup();
        resolve(chunk);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const cleanup = () => {
      child.stdout.off('readable', onReadable);
      child.stdout.off('end', onEnd);
    };
    child.stdout.on('readable', onReadable);
    child.stdout.on('end', onEnd);
  });
}

/** The "git timings" debug line (see GitTimeline); `lastPhase` names the time from the last mark to git's exit. */
function logTimings(request: FastifyRequest, service: string, timeline: GitTimeline, lastPhase: string): void {
  timeline.mark(lastPhase);
  request.log.debug({ service, timings: timeline.toJSON() }, 'git timings');
}
