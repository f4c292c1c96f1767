// receive-pack's answer with the post-receive step in it (server/http/git/receive-pack-answer.ts):
// the report-status is read on side band 1 or as plain pkt-lines, the last flush waits for the
// step (started once the report is whole), whose lines go out on side band 2 before it;
// anything else passes through untouched.
// Each answer is also fed one byte at a time (packets split across chunks).
import t from 'tap';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { FLUSH, pktLine } from '../server/http/git/pkt-line.ts';
import { receivePackAnswer } from '../server/http/git/receive-pack-answer.ts';

const band = (n: number, payload: Buffer | string) => pktLine(`${String.fromCharCode(n)}${typeof payload === 'string' ? payload : payload.toString('latin1')}`);
const report = (...lines: string[]) => Buffer.concat([...lines.map((line) => pktLine(`${line}\n`)), FLUSH]);

async function answer(chunks: Buffer[], lines: readonly string[] | Error = ['mlgit: queued run 1']) {
  const seen: (ReadonlySet<string> | null)[] = [];
  const out = receivePackAnswer(Readable.from(chunks), async (refs) => {
    seen.push(refs);
    if (lines instanceof Error) throw lines;
    return lines;
  });
  const bytes = await buffer(out);
  return { bytes, seen };
}

function byteByByte(whole: Buffer): Buffer[] {
  return [...whole].map((byte) => Buffer.from([byte]));
}

const sideBandReport = report('unpack ok', 'ok refs/heads/main', 'ng refs/heads/other failed to lock', 'ok refs/tags/v1', 'option refname refs/tags/v1');
const cases: { name: string; input: Buffer; refs: string[] | null; output: Buffer }[] = [
  {
    name: 'side band: report on band 1, hook output on band 2',
    input: Buffer.concat([band(2, 'remote line\n'), band(1, sideBandReport.subarray(0, 20)), band(1, sideBandReport.subarray(20)), FLUSH]),
    refs: ['refs/heads/main', 'refs/tags/v1'],
    output: Buffer.concat([band(2, 'remote line\n'), band(1, sideBandReport.subarray(0, 20)), band(1, sideBandReport.subarray(20)), band(2, 'mlgit: queued run 1\n'), FLUSH]),
  },
  {
    name: 'side band with keepalives (empty band 1 packets) before the report',
    input: Buffer.concat([band(1, ''), band(1, ''), band(1, report('unpack ok', 'ok refs/heads/main')), FLUSH]),
    refs: ['refs/heads/main'],
    output: Buffer.concat([band(1, ''), band(1, ''), band(1, report('unpack ok', 'ok refs/heads/main')), band(2, 'mlgit: queued run 1\n'), FLUSH]),
  },
  {
    name: 'no side band: the report is the answer; nothing can be shown',
    input: report('unpack ok', 'ok refs/heads/main'),
    refs: ['refs/heads/main'],
    output: report('unpack ok', 'ok refs/heads/main'),
  },
  {
    name: 'every ref refused: an empty set',
    input: Buffer.concat([band(1, report('unpack ok', 'ng refs/heads/main non-fast-forward')), FLUSH]),
    refs: [],
    output: Buffer.concat([band(1, report('unpack ok', 'ng refs/heads/main non-fast-forward')), band(2, 'mlgit: queued run 1\n'), FLUSH]),
  },
  {
    name: 'no report at all (a client that asked for none)',
    input: Buffer.concat([band(2, 'hello\n'), FLUSH]),
    refs: null,
    output: Buffer.concat([band(2, 'hello\n'), band(2, 'mlgit: queued run 1\n'), FLUSH]),
  },
  {
    name: 'cut mid-packet after a whole report: passed on as it came; the report counts',
    input: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main')), Buffer.from('00ff\x02trunc')]),
    refs: ['refs/heads/main'],
    output: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main')), Buffer.from('00ff\x02trunc')]),
  },
  {
    name: 'cut inside the report: passed on as it came, no report',
    input: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main').subarray(0, 30))]),
    refs: null,
    output: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main').subarray(0, 30))]),
  },
  {
    name: 'not pkt-lines: passed on untouched, no report',
    input: Buffer.from('HTTP/1.1 garbage that is not git\n'),
    refs: null,
    output: Buffer.from('HTTP/1.1 garbage that is not git\n'),
  },
  {
    name: 'a flush in the middle is passed on when more follows',
    input: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main')), FLUSH, band(2, 'late\n'), FLUSH]),
    refs: ['refs/heads/main'],
    output: Buffer.concat([band(1, report('unpack ok', 'ok refs/heads/main')), FLUSH, band(2, 'late\n'), band(2, 'mlgit: queued run 1\n'), FLUSH]),
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    for (const [how, chunks] of [['whole', [c.input]], ['byte by byte', byteByByte(c.input)]] as const) {
      const { bytes, seen } = await answer([...chunks]);
      t.same(seen, [c.refs === null ? null : new Set(c.refs)], `${how}: the refs post-receive got`);
      t.equal(bytes.toString('latin1'), c.output.toString('latin1'), `${how}: the bytes the client got`);
    }
  });
}

t.test('a failing post-receive step fails the answer (the caller never lets it)', async (t) => {
  await t.rejects(answer([report('unpack ok', 'ok refs/heads/main')], new Error('boom')), /boom/);
});

t.test('an empty answer still runs the step, with no report', async (t) => {
  const { bytes, seen } = await answer([]);
  t.same(seen, [null]);
  t.equal(bytes.length, 0);
});
