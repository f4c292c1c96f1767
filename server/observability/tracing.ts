// Trace spans of the push-to-train path (issue 13): the git push request, the hook calls
// (children through the `traceparent` header the hook program forwards), dispatch, one span per
// run from queued to completed, its claim, the runner's job and the note. Only
// @opentelemetry/api here: without a registered SDK (MLGIT_TRACING=off) every call is a no-op.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClaimedJob } from '../../schema/runner-protocol.ts';
import type { GitBackend } from '../domain/ports.ts';
import type { RunLifecycle } from '../domain/runs/lifecycle.ts';
import type { RunEvents } from '../domain/runs/model.ts';

const tracer = () => trace.getTracer('mlgit');

/** A server span per request, named by route pattern; a `traceparent` header makes it a child. */
export function registerHttpTracing(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracer().startSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route, 'mlgit.request_id': request.id } }, parent);
    spans.set(request, span);
    // The rest of the request (hooks, handler, what it starts) runs with this span active.
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}

/** Runs `work` in a child span of the active one. */
export function inSpan<T>(name: string, attributes: Record<string, string | number>, work: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `fn`, run in the context active now whenever it is called (stream callbacks run in their source's). */
export function boundToActive<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return context.bind(context.active(), fn);
}

/** The W3C `traceparent` of `ctx` (default: the active context), or undefined when nothing is traced. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/**
 * One span per run, from queued (a child of whatever dispatched it) to completed. The claim
 * joins it and hands its context to the runner. Kept in this process's memory: a run claimed
 * through another server node starts its own trace there.
 */
export class RunTraces {
  private readonly spans = new Map<number, Span>();

  events(events: RunEvents): RunEvents {
    return {
      queued: (run) => {
        if (!this.spans.has(run.id)) this.spans.set(run.id, tracer().startSpan('mlgit.run', { attributes: { 'mlgit.run.id': run.id, 'mlgit.run.job': run.job, 'mlgit.repo.id': run.repoId } }));
        events.queued(run);
      },
      started: (run) => events.started(run),
      completed: (run, metrics) => {
        const span = this.spans.get(run.id);
        this.spans.delete(run.id);
        span?.setAttribute('mlgit.run.status', run.status);
        span?.end();
        events.completed(run, metrics);
      },
      regression: (run, comparison) => events.regression(run, comparison),
    };
  }

  /** The claim as a child of its run's span; the job it returns carries that span's traceparent for the runner. */
  async claim(runId: number, claim: () => Promise<ClaimedJob>): Promise<ClaimedJob> {
    const run = this.spans.get(runId);
    const parent = run ? trace.setSpan(ROOT_CONTEXT, run) : context.active();
    return context.with(parent, () =>
      inSpan('mlgit.run.claim', { 'mlgit.run.id': runId }, async () => {
        const job = await claim();
        const traceparent = traceparentOf(parent);
        return traceparent ? { ...job, traceparent } : job;
      }),
    );
  }
}

/** The claims of `lifecycle` as spans of their runs (RunTraces.claim). */
export function tracedClaims(lifecycle: RunLifecycle, traces: RunTraces): RunLifecycle {
  return withMethod(lifecycle, 'claim', (runId, attempt, runner) => traces.claim(runId, () => lifecycle.claim(runId, attempt, runner)));
}

/** The note writes as spans (children of the request that completed the run). */
export function tracedNoteWrites(git: GitBackend): GitBackend {
  return withMethod(git, 'writeNote', (repoId, note) => inSpan('mlgit.note.write', { 'mlgit.repo.id': repoId, 'mlgit.commit': note.commit }, () => git.writeNote(repoId, note)));
}

/** `target` with one method replaced; the others stay bound to it. */
function withMethod<T extends object, K extends keyof T>(target: T, name: K, replacement: T[K]): T {
  return new Proxy(target, {
    get(object, property) {
      if (property === name) return replacement;
      const value: unknown = Reflect.get(object, property);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}
