import type { JobQueue } from '../../server/domain/ports.ts';
import type t from 'tap';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
export type OnError = (name: string, err: unknown) => void;
/** Builds a fresh queue whose constructor reports final failures to `onError`. */
export type MakeQueue = (onError: OnError) => Promise<JobQueue>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves to 'timeout' when `promise` takes longer than `ms` (the timer must not outlive it). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise plus the function that resolves it: lets a test hold a handler mid-run. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The behaviour every JobQueue (in-process, BullMQ) must share; see JobQueue in ports.ts. */
export function jobQueueContract(t: TapTest, makeQueue: MakeQueue): void {
  // Each case gets its own queue, closed after it; close() must tolerate a second call.
  const setup = async (t: TapTest) => {
    const errors: { name: string; err: unknown }[] = [];
    const queue = await makeQueue((name, err) => errors.push({ name, err }));
    t.teardown(() => queue.close());
    return { queue, errors };
  };

  t.test('jobs run with their data', async (t) => {
    const { queue, errors } = await setup(t);
    const seen: unknown[] = [];
    queue.process('echo', async (data) => void seen.push(data));
    await queue.enqueue('echo', { n: 1, tags: ['a'] });
    await queue.enqueue('echo', { n: 2, tags: [] });
    await queue.drain();
    t.same(seen, [{ n: 1, tags: ['a'] }, { n: 2, tags: [] }]);
    t.same(errors, []);
  });

  t.test('reachable while open (readiness), not once closed', async (t) => {
    const { queue } = await setup(t);
    t.equal(await queue.reachable(5000), true);
    await queue.close();
    t.equal(await queue.reachable(5000), false);
  });

  t.test('jobs enqueued before process() run once it is registered', async (t) => {
    const { queue } = await setup(t);
    await queue.enqueue('late', { n: 1 });
    await queue.enqueue('late', { n: 2 });
    await sleep(100);
    const seen: unknown[] = [];
    queue.process('late', async (data) => void seen.push(data));
    await queue.drain();
    t.same(seen, [{ n: 1 }, { n: 2 }]);
  });

  t.test('concurrency limits jobs in flight', async (t) => {
    const { queue } = await setup(t);
    let inFlight = 0;
    let max = 0;
    let done = 0;
    queue.process(
      'slow',
      async () => {
        max = Math.max(max, ++inFlight);
        await sleep(60);
        inFlight--;
        done++;
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 6; i++) await queue.enqueue('slow', { i });
    await queue.drain();
    t.equal(done, 6);
    t.equal(max, 2, 'two at a time, never more');
  });

  t.test('a failing handler is retried up to attempts, then reported', async (t) => {
    const { queue, errors } = await setup(t);
    const calls: Record<string, number> = {};
    queue.process(
      'flaky',
      async (data) => {
        const { key } = data as { key: string };
        calls[key] = (calls[key] ?? 0) + 1;
        if (key === 'broken' || calls[key] < 3) throw new Error(`boom ${key}`);
      },
      { attempts: 3 },
    );
    await queue.enqueue('flaky', { key: 'broken' });
    await queue.enqueue('flaky', { key: 'recovers' });
    await queue.drain();
    t.same(calls, { broken: 3, recovers: 3 });
    t.equal(errors.length, 1, 'only the job that never succeeded is reported, once');
    t.equal(errors[0]?.name, 'flaky');
    t.match(errors[0]?.err, { message: 'boom broken' });
  });

  t.test('enqueues with the same jobId coalesce while waiting', async (t) => {
    const { queue } = await setup(t);
    const seen: unknown[] = [];
    queue.process('coalesce', async (data) => void seen.push(data));
    for (let n = 1; n <= 3; n++) await queue.enqueue('coalesce', { id: 'repo-1', n }, { jobId: 'repo-1', delayMs: 150 });
    await queue.enqueue('coalesce', { id: 'repo-2' }, { jobId: 'repo-2', delayMs: 150 });
    await queue.drain();
    t.equal(seen.length, 2, 'one run per jobId');
    t.same(seen.map((data) => (data as { id: string }).id).sort(), ['repo-1', 'repo-2']);
  });

  t.test('an enqueue with the jobId of a job that started is new work', async (t) => {
    const { queue } = await setup(t);
    let runs = 0;
    const started = gate();
    const release = gate();
    queue.process('repack', async () => {
      runs++;
      started.open();
      await release.promise;
    });
    await queue.enqueue('repack', {}, { jobId: 'maintenance-1' });
    await started.promise;
    await queue.enqueue('repack', {}, { jobId: 'maintenance-1' });
    release.open();
    await queue.drain();
    t.equal(runs, 2, 'enqueued while running: runs again');
    await queue.enqueue('repack', {}, { jobId: 'maintenance-1' });
    await queue.drain();
    t.equal(runs, 3, 'enqueued after it finished: runs again');
  });

  t.test('delayMs delays the job', async (t) => {
    const { queue } = await setup(t);
    let ranAt = 0;
    queue.process('later', async () => void (ranAt = Date.now()));
    const start = Date.now();
    await queue.enqueue('later', {}, { delayMs: 300 });
    await sleep(150);
    t.equal(ranAt, 0, 'not before the delay');
    await queue.drain();
    // Node timers may fire a millisecond early by Date.now(); a few ms of slack, no more.
    t.ok(ranAt - start >= 295, `ran after ${ranAt - start} ms`);
  });

  t.test('drain waits for running and delayed jobs, not for jobs handled elsewhere', async (t) => {
    const { queue } = await setup(t);
    t.equal(await within(queue.drain(), 1000), undefined, 'an empty queue drains at once');
    const finished: string[] = [];
    const started = gate();
    queue.process('work', async (data) => {
      started.open();
      await sleep(200);
      finished.push((data as { id: string }).id);
    });
    await queue.enqueue('work', { id: 'now' });
    await queue.enqueue('work', { id: 'delayed' }, { delayMs: 100 });
    await started.promise;
    await queue.enqueue('runner-only', { id: 'x' });
    await queue.enqueue('runner-only', { id: 'y' }, { delayMs: 60_000 });
    t.equal(await within(queue.drain(), 5000), undefined, 'drain resolves although runner-only jobs wait');
    t.same(finished.sort(), ['delayed', 'now']);
  });

  t.test('close waits for running jobs and stops', async (t) => {
    const { queue } = await setup(t);
    const finished: string[] = [];
    const started = gate();
    queue.process('work', async (data) => {
      started.open();
      await sleep(150);
      finished.push((data as { id: string }).id);
    });
    await queue.enqueue('work', { id: 'running' });
    await queue.enqueue('work', { id: 'queued' }); // waits: concurrency is 1
    await queue.enqueue('work', { id: 'delayed' }, { delayMs: 200 });
    await started.promise;
    await sleep(20); // 'queued' is now ready to run, not only scheduled
    await queue.close();
    t.same(finished, ['running'], 'the running job finished before close resolved');
    await sleep(300);
    t.same(finished, ['running'], 'nothing runs after close');
    await t.rejects(queue.enqueue('work', { id: 'too late' }), 'enqueue after close fails');
  });
}
