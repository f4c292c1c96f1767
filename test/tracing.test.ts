// OpenTelemetry traces (issue 13): one trace from the `git push` request through pre-receive,
// post-receive, dispatch, the run, the runner's claim and job, to the note, with the run id as an
// attribute; the job sees TRACEPARENT. The spans go to an in-memory exporter instead of OTLP.
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import t from 'tap';
import { trace } from '@opentelemetry/api';
import { traceIds } from '../server/logger.ts';
import { startTracing } from '../server/observability/tracing-sdk.ts';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const exporter = new InMemorySpanExporter();
startTracing('mlgit-test', exporter);

const TRAIN = manifest(`jobs:
  train:
    kind: train
    command: python3 -c "import os; print('TRACEPARENT=' + os.environ.get('TRACEPARENT', 'none'))"
    timeout: 2m
`);

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

t.test('the span tree of a push that trains', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' }, { config: { tracing: 'otlp' } });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const { sha, push } = await pushProject(server, client, alice, 'traced', { 'mlproject.yaml': TRAIN });
  t.equal(push.code, 0, push.stderr);
  const [run] = await waitForRuns(server, alice.basic, 'alice/traced', sha);
  t.equal(run.status, 'success', run.message);
  // The run span ends once the run is recorded; the note is written right after; the runner's
  // job span ends only once the runner has its answer to the report, which can come later still.
  const spans = await eventually(
    async () => exporter.getFinishedSpans(),
    (all) => ['mlgit.note.write', 'mlgit.run', 'mlgit.job'].every((name) => all.some((s) => s.name === name)),
    'the run, note and job spans',
  );

  const pushSpan = spans.find((s) => s.name === 'POST /:owner/:repo/git-receive-pack');
  t.ok(pushSpan, 'the push request is a span, named by its route');
  const traceId = pushSpan!.spanContext().traceId;
  const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
  const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
  const named = (name: string) => inTrace.filter((s) => s.name === name);
  const ancestors = (span: ReadableSpan): string[] => {
    const names: string[] = [];
    for (let parent = byId.get(parentOf(span) ?? ''); parent; parent = byId.get(parentOf(parent) ?? '')) names.push(parent.name);
    return names;
  };

  const hooks = named('POST /internal/hooks/:hook');
  t.equal(hooks.length, 1, 'pre-receive joined the push trace (traceparent forwarded by the hook program)');
  for (const hook of hooks) t.equal(parentOf(hook), pushSpan!.spanContext().spanId, 'each hook call is a child of the push');
  const [dispatch] = named('mlgit.dispatch');
  t.ok(dispatch, 'dispatch is in the trace');
  const [postReceive] = named('mlgit.post-receive');
  t.equal(parentOf(postReceive!), pushSpan!.spanContext().spanId, 'post-receive, done by the server once git answered, is a child of the push');
  t.equal(parentOf(dispatch!), postReceive!.spanContext().spanId, 'dispatch is a child of post-receive');
  const [runSpan] = named('mlgit.run');
  t.equal(runSpan?.attributes['mlgit.run.id'], run.id, 'the run span carries the run id');
  t.equal(parentOf(runSpan!), dispatch!.spanContext().spanId, 'the run span is a child of dispatch');
  const [claim] = named('mlgit.run.claim');
  t.equal(parentOf(claim!), runSpan!.spanContext().spanId, "the runner's claim is a child of the run");
  const [job] = named('mlgit.job');
  t.equal(parentOf(job!), runSpan!.spanContext().spanId, 'the job is a child of the run');
  t.equal(job!.attributes['mlgit.run.id'], run.id);
  // One report, or more when a slow answer made the runner send it again: each is the job's child.
  const complete = named('POST /api/v1/runner/runs/:id/complete');
  t.ok(complete.length >= 1, "the runner's report joined the trace");
  t.ok(complete.every((c) => parentOf(c) === job!.spanContext().spanId), 'the report is a child of the job');
  const notes = named('mlgit.note.write');
  t.ok(notes.length >= 1, 'the note write is in the trace');
  t.ok(ancestors(notes[0]!).includes('POST /api/v1/runner/runs/:id/complete'), `the note hangs under the report: ${ancestors(notes[0]!).join(' < ')}`);
  t.same(ancestors(notes[0]!).slice(-4), ['mlgit.run', 'mlgit.dispatch', 'mlgit.post-receive', 'POST /:owner/:repo/git-receive-pack'], 'up to the push');

  const log = await server.api('GET', `/api/v1/repos/alice/traced/runs/${run.id}/logs`, { auth: alice.basic });
  t.match(log.body, `TRACEPARENT=00-${traceId}-${job!.spanContext().spanId}-01`, "the job's environment carries the trace context of its span");
});

t.test('log lines written in a span carry its trace and span ids', async (t) => {
  t.same(traceIds(), {}, 'none outside a span');
  trace.getTracer('test').startActiveSpan('log-test', (span) => {
    t.same(traceIds(), { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    span.end();
  });
});
