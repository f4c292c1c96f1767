// The runner's side of a run's trace (issue 13): the job is a span under the run's span (whose
// traceparent the claim returned), the runner's calls to the server carry it, and the job's
// environment gets TRACEPARENT so user code can join the trace. @opentelemetry/api only: with
// no SDK registered in this process the span records nothing and the run's traceparent is
// passed through as it came.
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { ClaimedJob } from '../schema/runner-protocol.ts';

/** Runs `work` outside whatever trace the caller is in (a queue message is not part of one). */
export function untraced<T>(work: () => T): T {
  return context.with(ROOT_CONTEXT, work);
}

/** Runs the job in a span under its run's; `work` gets the TRACEPARENT to hand to the job. */
export function inJobSpan<T>(job: ClaimedJob, work: (traceparent: string | undefined) => Promise<T>): Promise<T> {
  const parent = job.traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent: job.traceparent }) : ROOT_CONTEXT;
  const span = trace.getTracer('mlgit-runner').startSpan('mlgit.job', { attributes: { 'mlgit.run.id': job.run.id, 'mlgit.run.attempt': job.run.attempt, 'mlgit.run.job': job.run.job } }, parent);
  const active = trace.setSpan(parent, span);
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  return context.with(active, () => work(carrier.traceparent ?? job.traceparent)).finally(() => span.end());
}

/** Adds the active trace context to outgoing request headers (`traceparent`), if any. */
export function injectTrace(headers: Record<string, string>): void {
  propagation.inject(context.active(), headers);
}
