// The runner's report retries (runner/retry.ts): pure logic, so plain functions stand in for the server.
import t from 'tap';
import { Unavailable, untilAcknowledged } from '../runner/retry.ts';

const quiet = () => {};

t.test('a report is sent again while the server is unavailable, until it is acknowledged', async (t) => {
  let calls = 0;
  const answer = await untilAcknowledged(async () => {
    calls++;
    if (calls < 3) throw new Unavailable('connection refused');
    return 'ack';
  }, 30_000, quiet);
  t.equal(answer, 'ack');
  t.equal(calls, 3);
});

t.test('an answer that is not "unavailable" ends the retrying at once', async (t) => {
  let calls = 0;
  await t.rejects(
    untilAcknowledged(async () => {
      calls++;
      throw new Error('400 bad report');
    }, 30_000, quiet),
    /400 bad report/,
  );
  t.equal(calls, 1);
});

t.test('after its patience the last error is thrown, naming how long it tried', async (t) => {
  await t.rejects(
    untilAcknowledged(async () => {
      throw new Unavailable('503 database unavailable');
    }, 300, quiet),
    { message: /gave up after 0 s: .*503 database unavailable/ },
  );
});

t.test('a stopping runner ends the retrying at once, also in the middle of a wait', async (t) => {
  const stop = new AbortController();
  let calls = 0;
  const started = Date.now();
  const pending = untilAcknowledged(
    async () => {
      calls++;
      throw new Unavailable('connection refused', 60_000);
    },
    600_000,
    // The first wait is long (Retry-After); the runner stops during it.
    () => setTimeout(() => stop.abort(), 50),
    stop.signal,
  );
  await t.rejects(pending, { message: /the runner is stopping: .*connection refused/ });
  t.equal(calls, 2, 'one more try after the wake-up, then no more');
  t.ok(Date.now() - started < 2_000, `stopped within ${Date.now() - started} ms, not after the 5 s wait`);
});
