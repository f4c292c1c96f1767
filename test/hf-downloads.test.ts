// The Hub API's download counter (server/domain/hf/downloads.ts): pure logic, a function stands in for the rows.
import t from 'tap';
import { DownloadCounter } from '../server/domain/hf/downloads.ts';

t.test('counts at once, writes in batches, and keeps what a failed write did not store', async (t) => {
  const written: Map<number, number>[] = [];
  let failNext = false;
  const errors: unknown[] = [];
  const counter = new DownloadCounter(
    {
      addDownloads: async (counts) => {
        if (failNext) {
          failNext = false;
          throw new Error('database unavailable');
        }
        written.push(new Map(counts));
      },
    },
    (err) => errors.push(err),
    60_000,
  );
  for (let i = 0; i < 3; i++) counter.count(1);
  counter.count(2);
  t.equal(counter.of({ id: 1, downloads: 10 }), 13, 'the row plus what is not written yet');
  failNext = true;
  await counter.flush();
  t.equal(errors.length, 1, 'a failed write is reported');
  t.equal(counter.of({ id: 1, downloads: 10 }), 13, 'and its counts are kept');
  counter.count(1);
  await counter.flush();
  t.same(written, [new Map([[1, 4], [2, 1]])], 'one write with everything counted');
  t.equal(counter.of({ id: 1, downloads: 14 }), 14, 'nothing pending after it');
  await counter.flush();
  t.equal(written.length, 1, 'nothing to write: no statement');
});
