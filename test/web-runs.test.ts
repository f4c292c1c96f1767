// The web UI's commits, commit, runs and run pages (issue 10, views 5 and 6): run marks and the
// headline metric per commit, the commit's diff (LFS as sizes), metrics against the baseline and
// note; the runs list and its filters; the run page's log (escaped, ANSI colours as classes, the
// tail only), its live stream over SSE with resume, cancel and re-run with CSRF, and who sees what.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { seriousAxeProblems } from './helpers/axe.ts';
import t from 'tap';
import { commitDiff } from '../server/adapters/git/commit-diff.ts';
import { Readable } from 'node:stream';
import type { RunLogStore } from '../server/domain/ports.ts';
import { AnsiRenderer } from '../server/web/ansi.ts';
import { LOG_WINDOW_BYTES, logWindow } from '../server/web/run-log.ts';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { WebClient } from './helpers/web-client.ts';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts', 'web');

const TRAIN_PY = (accuracy: number) => `import json, os
with open(os.path.join(os.environ['MLP_OUTPUT_DIR'], 'model.txt'), 'w') as f:
    f.write('weights ${accuracy}\\n')
print('\\x1b[31mred text\\x1b[0m plain \\x1b[1;32mbold green\\x1b[0m')
print('<script>window.pwned = 1</script><img src=x onerror=alert(1)>')
print('\\x1b]0;window title\\x07osc gone \\x1b[2Kcleared \\x1b[38;5;196mcolor256\\x1b[0m')
print('progress 10%\\rprogress 100%')
with open('metrics.json', 'w') as f:
    json.dump({'accuracy': ${accuracy}, 'loss': 0.5}, f)
`;
// Prints a numbered line every 50 ms until it is cancelled (or two minutes pass).
const TICKER_PY = `import sys, time
for i in range(2400):
    print('\\x1b[33mtick\\x1b[0m %d <b>' % i, flush=True)
    time.sleep(0.05)
`;
const MANIFEST = manifest(`triggers:
  push: {jobs: [train]}
  manual: {jobs: [train, ticker]}
params:
  schema:
    learningRate: {type: float, default: 0.25}
jobs:
  train:
    kind: train
    command: python3 train.py --lr \${{ params.learningRate }}
    inputs: [train.py]
    outputs: [{path: model.txt, type: model}]
    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize}}
  ticker:
    kind: custom
    command: python3 ticker.py
    timeout: 5m
`);

/** Reads SSE events from a streaming response until `enough` says so; answers them parsed. */
async function readEvents(response: Response, enough: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    while (!enough(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { id: null, event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        if (event.data || event.id) events.push(event);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}
interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

t.test('ANSI colours become classes; other escapes and control characters are dropped', async (t) => {
  const r = new AnsiRenderer();
  t.equal(r.line('\x1b[31mred\x1b[0m <b>').value, '<span class="ansi-red">red</span> &lt;b&gt;');
  t.equal(r.line('\x1b[1;4;42mx').value, '<span class="ansi-bg-green ansi-bold ansi-underline">x</span>');
  t.equal(r.line('still styled\x1b[m').value, '<span class="ansi-bg-green ansi-bold ansi-underline">still styled</span>', 'the style carries over lines');
  t.equal(r.line('\x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2J\x1b[Hclear\x07\x00').value, 'link clear');
  t.equal(r.line('\x1b[38;2;255;0;0mtrue\x1b[39m \x1b[38;5;9mbright').value, 'true <span class="ansi-bright-red">bright</span>');
  t.equal(r.line('\x1b[0m50%\r100%').value, '100%', 'a carriage return shows what a terminal would');
  t.equal(new AnsiRenderer().line('"\' onmouseover=x').value, '&quot;&#39; onmouseover=x');
});

t.test('a big log: the page gets a window of whole lines, never the whole log', async (t) => {
  const line = (i: number) => `line ${String(i).padStart(7, '0')} ${'x'.repeat(80)}\n`;
  const log = Buffer.from(Array.from({ length: 40_000 }, (_, i) => line(i)).join('') + 'partial');
  let bytesRead = 0;
  const store: RunLogStore = {
    append: async () => ({ written: 0, truncated: false }),
    size: async () => log.length,
    read: async (_id, start) => {
      // Streams in 64 KiB chunks, counting what is consumed.
      const chunks: Buffer[] = [];
      for (let at = start; at < log.length; at += 65_536) chunks.push(log.subarray(at, Math.min(log.length, at + 65_536)));
      return Readable.from((function* () {
        for (const c of chunks) {
          bytesRead += c.length;
          yield c;
        }
      })());
    },
  };
  const tail = await logWindow(store, 1, null, false);
  t.equal(tail.size, log.length);
  t.equal(tail.end, log.length, 'the tail, to the end');
  t.ok(tail.end - tail.start <= LOG_WINDOW_BYTES, `at most ${LOG_WINDOW_BYTES} bytes`);
  t.equal(log[tail.start - 1], 0x0a, 'starting right after a newline');
  t.ok(bytesRead < LOG_WINDOW_BYTES + 2 * 65_536, `read ${bytesRead} bytes of ${log.length}`);
  t.equal(tail.lines.at(-1)!.html.value, 'partial', 'a final run shows its last partial line');
  t.equal(tail.lines[0]!.offset, tail.start);
  const live = await logWindow(store, 1, null, true);
  t.equal(live.end, log.length - 'partial'.length, 'a live run leaves its growing line to the stream');
  const earlier = await logWindow(store, 1, tail.start, false);
  t.equal(earlier.end, tail.start, '"load earlier" ends where the tail began');
  t.ok(earlier.start < earlier.end && earlier.end - earlier.start <= LOG_WINDOW_BYTES);
  const head = await logWindow(store, 1, 1000, false);
  t.equal(head.start, 0);
  t.equal(head.lines[0]!.html.value, line(0).trimEnd());
});

t.test('commit diffs: stats, text patches under a cap, LFS pointers as sizes', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-diff-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => run('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd: dir }).then((r) => r.stdout.trim());
  const pointer = (size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${'a'.repeat(64)}\nsize ${size}\n`;
  await git('init', '-q', '-b', 'main');
  await fs.writeFile(path.join(dir, 'a.txt'), 'one\ntwo\nthree\n');
  await fs.writeFile(path.join(dir, 'w.bin'), pointer(1000));
  await fs.writeFile(path.join(dir, 'b.dat'), Buffer.from([0, 1, 2]));
  await git('add', '-A');
  await git('commit', '-q', '-m', 'root');
  const root = await git('rev-parse', 'HEAD');
  await fs.writeFile(path.join(dir, 'a.txt'), 'one\n2\nthree\nfour\n');
  await fs.writeFile(path.join(dir, 'w.bin'), pointer(2_500_000));
  await fs.writeFile(path.join(dir, 'big.txt'), 'x'.repeat(100) + '\n');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'second');
  const second = await git('rev-parse', 'HEAD');

  const first = (await commitDiff(dir, null, root, 100_000))!;
  t.same(first.files.map((f) => [f.path, f.status, f.binary]), [['a.txt', 'added', false], ['b.dat', 'added', true], ['w.bin', 'added', false]]);
  t.same(first.files[2]!.lfs, { before: null, after: 1000 }, 'an added pointer: its size');
  const diff = (await commitDiff(dir, root, second, 100_000))!;
  const byPath = Object.fromEntries(diff.files.map((f) => [f.path, f]));
  t.same([byPath['a.txt']!.additions, byPath['a.txt']!.deletions], [2, 1]);
  t.match(byPath['a.txt']!.patch, /^@@ -1,3 \+1,4 @@\n one\n-two\n\+2\n three\n\+four$/);
  t.same(byPath['w.bin']!.lfs, { before: 1000, after: 2_500_000 }, 'size a -> b');
  t.equal(diff.truncated, false);
  const capped = (await commitDiff(dir, root, second, 200))!;
  t.equal(capped.truncated, true, 'past the cap');
  t.equal(capped.files.length, 3, 'every file keeps its stats');
  t.equal(capped.files.at(-1)!.patch, null, 'the cut patch is left out');
  t.equal(await commitDiff(dir, 'HEAD', second, 10), null, 'only full shas');
});

t.test('commits, commit, runs and run pages', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' });
  const client = await GitClient.create(t);
  await client.enableLfs();
  const [alice, bob] = await Promise.all([server.user('alice'), server.user('bob')]);
  const { dir, sha: first, push } = await pushProject(server, client, alice, 'hub', {
    'mlproject.yaml': MANIFEST,
    'train.py': TRAIN_PY(0.9),
    'ticker.py': TICKER_PY,
    '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n',
    'weights.bin': Buffer.alloc(1000, 1),
  });
  t.equal(push.code, 0, push.stderr);
  await waitForRuns(server, alice.basic, 'alice/hub', first);
  const second = await client.commit(dir, { 'train.py': TRAIN_PY(0.95), 'weights.bin': Buffer.alloc(2500, 2) }, 'Better model <script>alert(1)</script>');
  const pushed = await client.run(['push', 'origin', 'main'], { cwd: dir });
  t.equal(pushed.code, 0, pushed.stderr);
  const [train] = await waitForRuns(server, alice.basic, 'alice/hub', second);
  t.equal(train.status, 'success', train.message);
  // Results (metrics, note) land right after the status turns final.
  await eventually(() => server.api('GET', `/api/v1/repos/alice/hub/commits/${second}/metrics`, { auth: alice.basic }), (r) => r.body?.jobs?.[0]?.metrics?.accuracy === 0.95, 'metrics of the second commit');
  const made = await server.api('PATCH', '/api/v1/repos/alice/hub', { auth: alice.basic, body: { private: true } });
  t.equal(made.status, 200, 'the repo is private from here on');

  const anonymous = new WebClient(server.url);
  const owner = new WebClient(server.url);
  const outsider = new WebClient(server.url);
  t.equal((await owner.signIn('alice', alice.password)).status, 303);
  t.equal((await outsider.signIn('bob', bob.password)).status, 303);

  await t.test('commits page: a run mark and the headline metric with its delta per commit', async (t) => {
    const page = await owner.get('/alice/hub/commits/main');
    t.equal(page.status, 200);
    t.equal(page.title, 'Commits · alice/hub at main · mlgit');
    t.match(page.text, /class="tabs">[\s\S]*class="on">Commits</, 'the Commits tab');
    t.match(page.text, /<span class="state success" title="train: success" aria-label="success">✓<\/span>/, 'a success mark');
    t.match(page.text, /Better model &lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the message escaped');
    t.notMatch(page.text, /<script>alert/, 'never raw');
    t.match(page.text, /<span class="muted">accuracy<\/span> <b>0\.95<\/b> <span class="improved">\+0\.05<\/span>/, 'headline metric and delta vs the parent, better');
    t.match(page.text, /<b>0\.9<\/b> <\/div>/, 'the root commit: value without delta');
    const order = [...page.text.matchAll(/href="\/alice\/hub\/commit\/([0-9a-f]{40})"/g)].map((m) => m[1]);
    t.same([...new Set(order)], [second, first], 'newest first');
    const after = await owner.get(`/alice/hub/commits/main?after=${second}`);
    t.match(after.text, new RegExp(`/alice/hub/commit/${first}`), 'the page after a commit');
    t.notMatch(after.text, new RegExp(`/alice/hub/commit/${second}`));
    t.equal((await owner.get('/alice/hub/commits/main?after=nope')).status, 404);
    t.equal((await owner.get('/alice/hub/commits/no-branch')).status, 404);
  });

  await t.test('commit page: message, parents, diff with LFS sizes, metrics against the baseline, runs, note', async (t) => {
    const page = await owner.get(`/alice/hub/commit/${second}`);
    t.equal(page.status, 200);
    t.match(page.text, /<h2>Better model &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/h2>/);
    t.match(page.text, new RegExp(`parent <a class="mono" href="/alice/hub/commit/${first}">${first.slice(0, 8)}</a>`), 'parent link');
    t.match(page.text, /2 files changed · <span class="improved">\+\d+<\/span>/, 'diff stats');
    t.match(page.text, /<tr class="del"><td class="ln">\d+<\/td><td class="ln"><\/td><td>- {4}json\.dump\(\{&#39;accuracy&#39;: 0\.9, /, 'the text diff, escaped');
    t.match(page.text, /<tr class="add"><td class="ln"><\/td><td class="ln">\d+<\/td><td>\+ {4}json\.dump\(\{&#39;accuracy&#39;: 0\.95, /);
    t.match(page.text, /LFS object · size 1\.0 KB -> 2\.5 KB/, 'the LFS pointer as sizes');
    t.match(page.text, /<td>accuracy<\/td><td class="num">0\.9<\/td><td class="num">0\.95<\/td><td class="num">\+0\.05 \(\+5\.56%\)<\/td><td>maximize<\/td><td><span class="improved">▲ better<\/span>/, 'metrics against the parent, direction-aware');
    t.match(page.text, new RegExp(`href="/alice/hub/runs/${train.id}">#${train.id} train</a>`), 'the run it triggered');
    t.match(page.text, /<pre class="note">mlproject: test-project @ /, 'the raw note');
    t.match(page.text, /&quot;accuracy&quot;:0\.95/, 'with its JSON line, escaped');
    const root = await owner.get(`/alice/hub/commit/${first}`);
    t.match(root.text, /no parents/);
    t.match(root.text, /root commit/);
    t.match(root.text, /LFS object · size — -> 1\.0 KB/);
    t.equal((await owner.get('/alice/hub/commit/main')).status, 200, 'a ref names a commit too');
    t.equal((await owner.get(`/alice/hub/commit/${'f'.repeat(40)}`)).status, 404);
  });

  await t.test('run page: the log escaped with ANSI spans and line anchors, details, no live script once final', async (t) => {
    const page = await owner.get(`/alice/hub/runs/${train.id}`);
    t.equal(page.status, 200);
    t.equal(page.title, `Run #${train.id} train · alice/hub · mlgit`);
    t.match(page.text, /<span class="ansi-red">red text<\/span> plain <span class="ansi-bold ansi-green">bold green<\/span>|<span class="ansi-red">red text<\/span> plain <span class="ansi-green ansi-bold">bold green<\/span>/, 'ANSI colours as classes');
    t.match(page.text, /&lt;script&gt;window\.pwned = 1&lt;\/script&gt;&lt;img src=x onerror=alert\(1\)&gt;/, 'HTML in the log is text');
    t.notMatch(page.text, /<script>window|<img src=x/, 'never markup');
    t.notOk(page.text.includes('\x1b') || page.text.includes('window title'), 'no escape sequence or OSC text reaches the page');
    t.match(page.text, /<span class="t">osc gone cleared color256<\/span>/, '256-colour codes past the basic 16 are dropped');
    t.match(page.text, />progress 100%<\/span>/, 'carriage return: the last state');
    t.match(page.text, /<div class="l" id="L1"><a class="n" href="#L1" aria-label="line 1">1<\/a>/, 'line anchors');
    t.match(page.text, new RegExp(`<a class="mono" href="/alice/hub/commit/${second}">`), 'commit link');
    t.match(page.text, /<dt>Trigger<\/dt><dd>push by <a href="\/alice">alice<\/a><\/dd>/, 'trigger and who');
    t.match(page.text, /<dt>Attempt<\/dt><dd>1 of \d+<\/dd>/);
    t.match(page.text, /<dt>Cache<\/dt><dd>miss<\/dd>/);
    t.match(page.text, /<dt>accuracy <span class="badge">primary<\/span><\/dt><dd class="num">0\.95<\/dd>/, 'metrics');
    t.match(page.text, /<dt class="mono">learningRate<\/dt><dd class="mono">0\.25<\/dd>/, 'params by the name the manifest gives them (not the MLP_PARAM_ variable)');
    t.notMatch(page.text, /run-log\.[0-9a-f]+\.js/, 'a final run has no live script');
    const weights = Buffer.from('weights 0.95\n');
    const sha256 = (await import('node:crypto')).createHash('sha256').update(weights).digest('hex');
    t.match(page.text, new RegExp(`<a href="/alice/hub/runs/${train.id}/outputs/model\\.txt">model\\.txt</a> <span class="muted">model · 13 B</span><div class="mono small sha" title="sha256">sha256 ${sha256}</div>`), 'outputs with size and sha256');
    const output = await fetch(`${server.url}/alice/hub/runs/${train.id}/outputs/model.txt`, { headers: { cookie: owner.cookieHeader() } });
    t.equal(output.status, 200);
    t.match(output.headers.get('content-disposition'), /^attachment; filename="model\.txt"/);
    t.equal(output.headers.get('x-sha256'), sha256);
    t.same(Buffer.from(await output.arrayBuffer()), weights, 'the download is the output');
    t.equal((await fetch(`${server.url}/alice/hub/runs/${train.id}/outputs/model.txt`, { redirect: 'manual' })).status, 303, 'not without a session');
    t.equal((await owner.get(`/alice/hub/runs/${train.id}/outputs/nope.bin`)).status, 404);
    t.match(page.text, /action="\/alice\/hub\/runs\/\d+\/rerun"/, 'a writer gets re-run');
    t.notMatch(page.text, /\/cancel"/, 'no cancel once final');
    const raw = await fetch(`${server.url}/alice/hub/runs/${train.id}/log`, { headers: { cookie: owner.cookieHeader() } });
    t.equal(raw.headers.get('content-type'), 'text/plain; charset=utf-8');
    t.equal(raw.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    t.ok((await raw.text()).includes('\x1b[31mred text'), 'the raw log is the bytes');
    t.equal((await owner.get('/alice/hub/runs/999999')).status, 404);
    t.equal((await owner.get('/alice/hub/runs/abc')).status, 404);
  });

  await t.test('runs list: filters by status, branch and job, commit', async (t) => {
    const all = await owner.get('/alice/hub/runs');
    t.equal(all.status, 200);
    t.match(all.text, /2 runs/);
    t.notMatch(all.text, /data-statuses|run-log\./, 'nothing to follow when every run is final');
    t.match(all.text, new RegExp(`href="/alice/hub/runs/${train.id}">#${train.id} train</a>`));
    t.match((await owner.get('/alice/hub/runs?status=success&branch=main&job=train')).text, /2 runs/);
    t.match((await owner.get('/alice/hub/runs?status=failed')).text, /No runs match these filters/);
    t.match((await owner.get('/alice/hub/runs?job=ticker')).text, /No runs match/);
    t.match((await owner.get('/alice/hub/runs?branch=other')).text, /No runs match/);
    t.match((await owner.get(`/alice/hub/runs?commit=${first}`)).text, /1 run</);
    t.equal((await owner.get('/alice/hub/runs?status=<script>')).status, 200, 'an unknown status is ignored');
  });

  await t.test('live log over SSE with resume, then cancel with CSRF (and not without)', async (t) => {
    const started = await server.api('POST', '/api/v1/repos/alice/hub/runs', { auth: alice.basic, body: { ref: 'main', jobs: ['ticker'] } });
    t.equal(started.status, 201);
    const ticker = started.body.runs[0];
    await eventually(() => server.api('GET', `/api/v1/repos/alice/hub/runs/${ticker.id}`, { auth: alice.basic }), (r) => r.body.status === 'running', 'the ticker runs');
    const page = await owner.get(`/alice/hub/runs/${ticker.id}`);
    t.match(page.text, /<script src="\/static\/run-log\.[0-9a-f]+\.js" defer><\/script>/, 'the live script, external');
    t.match(page.text, new RegExp(`data-events="/alice/hub/runs/${ticker.id}/events"`));
    t.match(page.text, /action="\/alice\/hub\/runs\/\d+\/cancel"/, 'a cancel button while it runs');
    const list = await owner.get('/alice/hub/runs');
    t.match(list.text, /<table class="runs" data-statuses="\/alice\/hub\/runs\/statuses">/, 'the runs list follows its running runs');
    t.match(list.text, new RegExp(`<tr data-run="${ticker.id}">`));
    t.match(list.text, /<script src="\/static\/run-log\.[0-9a-f]+\.js" defer><\/script>/);
    const statuses = await fetch(`${server.url}/alice/hub/runs/statuses?id=${ticker.id}&id=${train.id}&id=999999&id=x`, { headers: { cookie: owner.cookieHeader() } });
    t.same(await statuses.json(), { runs: [{ id: ticker.id, status: 'running', final: false }, { id: train.id, status: 'success', final: true }] }, 'statuses of the runs asked for');
    t.equal((await fetch(`${server.url}/alice/hub/runs/statuses?id=${ticker.id}`, { headers: { cookie: outsider.cookieHeader() } })).status, 404, 'not to an outsider');

    const headers = { cookie: owner.cookieHeader(), accept: 'text/event-stream' };
    const events = await fetch(`${server.url}/alice/hub/runs/${ticker.id}/events`, { headers });
    t.equal(events.status, 200);
    t.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    // Until the job's own first line is there: on a loaded machine the [mlgit] and runner lines
    // before it can come one poll each, filling the first three events.
    const got = await readEvents(events, (es) => es.filter((e) => e.event === 'log').length >= 3 && es.some((e) => e.event === 'log' && e.data.includes('tick')));
    t.same(got.find((e) => e.event === 'status') && JSON.parse(got.find((e) => e.event === 'status')!.data).status, 'running', 'the status first');
    const logs = got.filter((e) => e.event === 'log');
    const firstLog = JSON.parse(logs[0]!.data);
    t.equal(firstLog.offset, 0, 'from the start');
    const all = logs.flatMap((e) => JSON.parse(e.data).lines as { o: number; h: string }[]);
    t.ok(all.some((l) => l.h === '<span class="ansi-yellow">tick</span> 0 &lt;b&gt;'), 'lines rendered as on the page');
    t.ok(all.every((l, i) => i === 0 || l.o > all[i - 1]!.o), 'each line with its byte offset');
    for (const e of logs) t.match(e.id, /^\d+$/, 'each log event has its byte offset as id');
    const resumeAt = Number(logs[0]!.id);
    const resumed = await fetch(`${server.url}/alice/hub/runs/${ticker.id}/events`, { headers: { ...headers, 'last-event-id': String(resumeAt) } });
    const again = (await readEvents(resumed, (es) => es.some((e) => e.event === 'log'))).filter((e) => e.event === 'log');
    t.equal(JSON.parse(again[0]!.data).offset, resumeAt, 'Last-Event-ID resumes at that byte');
    t.equal(JSON.parse(again[0]!.data).lines[0].h, JSON.parse(logs[1]!.data).lines[0].h, 'with the line that followed');
    const viaQuery = await fetch(`${server.url}/alice/hub/runs/${ticker.id}/events?offset=${resumeAt}`, { headers });
    t.equal(JSON.parse((await readEvents(viaQuery, (es) => es.some((e) => e.event === 'log'))).find((e) => e.event === 'log')!.data).offset, resumeAt, '?offset= too');
    t.equal((await anonymous.get(`/alice/hub/runs/${ticker.id}/events`)).status, 303, 'anonymous: to sign-in');
    t.equal((await outsider.get(`/alice/hub/runs/${ticker.id}/events`)).status, 404, 'outsider: 404');

    // Follow until the end while cancelling.
    const follow = await fetch(`${server.url}/alice/hub/runs/${ticker.id}/events?offset=${resumeAt}`, { headers });
    const untilEnd = readEvents(follow, (es) => es.some((e) => e.event === 'end'));
    t.equal((await owner.post(`/alice/hub/runs/${ticker.id}/cancel`, { _csrf: null })).status, 403, 'no CSRF token: refused');
    t.equal((await owner.post(`/alice/hub/runs/${ticker.id}/cancel`, { _csrf: 'forged' })).status, 403, 'a wrong token: refused');
    await outsider.get('/alice');
    t.equal((await outsider.post(`/alice/hub/runs/${ticker.id}/cancel`)).status, 404, 'an outsider with a valid token of their own: 404');
    t.equal((await server.api('GET', `/api/v1/repos/alice/hub/runs/${ticker.id}`, { auth: alice.basic })).body.status, 'running', 'still running');
    await owner.get(`/alice/hub/runs/${ticker.id}`);
    const cancelled = await owner.post(`/alice/hub/runs/${ticker.id}/cancel`);
    t.equal(cancelled.status, 303, 'cancel with the token');
    t.equal(cancelled.headers.get('location'), `/alice/hub/runs/${ticker.id}`);
    const streamed = await untilEnd;
    const end = streamed.find((e) => e.event === 'end');
    t.ok(end, 'the stream ends when the run does');
    t.equal(JSON.parse(end!.data).status, 'cancelled');
    t.ok(streamed.some((e) => e.event === 'status' && JSON.parse(e.data).status === 'cancelled'), 'with the status change');
    const finalPage = await owner.get(`/alice/hub/runs/${ticker.id}`);
    t.match(finalPage.text, /<span class="status cancelled"/);
    t.equal((await owner.post(`/alice/hub/runs/${ticker.id}/cancel`)).status, 409, 'cancelling a finished run: conflict page');
  });

  await t.test('re-run: a manual run of the same job at the same commit', async (t) => {
    await owner.get(`/alice/hub/runs/${train.id}`);
    const rerun = await owner.post(`/alice/hub/runs/${train.id}/rerun`);
    t.equal(rerun.status, 303);
    const location = rerun.headers.get('location')!;
    t.match(location, /^\/alice\/hub\/runs\/\d+$/);
    t.not(location, `/alice/hub/runs/${train.id}`);
    const page = await owner.get(location);
    t.match(page.text, /<dt>Trigger<\/dt><dd>manual by <a href="\/alice">alice<\/a><\/dd>/);
    t.match(page.text, new RegExp(`/alice/hub/commit/${second}`));
    t.equal((await owner.post(`/alice/hub/runs/${train.id}/rerun`, { _csrf: null })).status, 403, 'not without CSRF');
  });

  await t.test('in chromium: a live line appears on a running run\'s page; the pages at desktop and phone width', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing` }, async (t) => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    t.teardown(() => browser.close());
    const started = await server.api('POST', '/api/v1/repos/alice/hub/runs', { auth: alice.basic, body: { ref: 'main', jobs: ['ticker'] } });
    const ticker = started.body.runs[0];
    await eventually(() => server.api('GET', `/api/v1/repos/alice/hub/runs/${ticker.id}`, { auth: alice.basic }), (r) => r.body.status === 'running', 'the ticker runs');
    for (const width of [1280, 390]) {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${server.url}/login`);
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', alice.password);
      await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit].primary')]);
      const look = async (url: string, name: string) => {
        await page.goto(`${server.url}${url}`);
        await page.waitForLoadState('load');
        await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
        const { scroll, viewport } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));
        t.ok(scroll <= viewport, `${name} at ${width}: no horizontal scroll (${scroll} <= ${viewport})`);
        t.same(await seriousAxeProblems(page), [], `${name} at ${width}: no serious or critical axe-core problem`);
      };
      await look('/alice/hub/commits/main', 'commits');
      await look(`/alice/hub/commit/${second}`, 'commit');
      await look('/alice/hub/runs', 'runs');
      await look(`/alice/hub/runs/${train.id}`, 'run');
      t.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined, 'the log set no global');

      await page.goto(`${server.url}/alice/hub/runs/${ticker.id}`);
      const before = await page.locator('#log .l').count();
      const last = await page.locator('#log .l .t').last().textContent();
      // A line the server had not written when the page was rendered arrives over SSE.
      await page.waitForFunction((n) => document.querySelectorAll('#log .l').length > n + 2, before);
      const after = await page.locator('#log .l').count();
      t.ok(after > before, `live lines appear (${before} -> ${after})`);
      const lastNumber = Number(await page.locator('#log .l .n').last().textContent());
      t.equal(lastNumber, after, 'numbered on from the page\'s lines');
      t.not(await page.locator('#log .l .t').last().textContent(), last);
      t.equal(await page.locator('#log .l .t .ansi-yellow').last().textContent(), 'tick', 'with its colour');
      t.equal(await page.locator(`#log #L${after}`).count(), 1, 'and its anchor');
      await page.screenshot({ path: path.join(ARTIFACTS, `run-live-${width}.png`), fullPage: false });
      t.same(dialogs, [], 'no dialog');
      t.same(errors, [], 'no script error');
      await context.close();
    }
    // The runs list's mark of the running run follows it to its end.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', alice.password);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit].primary')]);
    await page.goto(`${server.url}/alice/hub/runs`);
    t.equal(await page.locator(`tr[data-run="${ticker.id}"] .status`).textContent(), 'running');
    await server.api('POST', `/api/v1/repos/alice/hub/runs/${ticker.id}/cancel`, { auth: alice.basic });
    await page.waitForFunction((id) => document.querySelector(`tr[data-run="${id}"] .status`)?.textContent === 'cancelled', ticker.id, { timeout: 60_000 });
    t.pass('the runs list shows the cancelled status without a reload');
    await context.close();
    await waitForRuns(server, alice.basic, 'alice/hub', ticker.commit, { done: (runs) => runs.every((r) => ['success', 'failed', 'cancelled', 'cached', 'error', 'timed_out'].includes(r.status)) });
  });

  await t.test('access on the private repo: anonymous to sign-in, outsider 404, owner 200', async (t) => {
    const paths = ['/alice/hub/commits/main', `/alice/hub/commit/${second}`, '/alice/hub/runs', `/alice/hub/runs/${train.id}`, `/alice/hub/runs/${train.id}/log`];
    for (const p of paths) {
      const anon = await anonymous.get(p);
      t.equal(anon.status, 303, `anonymous ${p}`);
      t.match(anon.headers.get('location'), /^\/login\?next=/);
      const out = await outsider.get(p);
      t.equal(out.status, 404, `outsider ${p}`);
      t.match(out.text, /404 · Not found/, 'the 404 page');
      t.equal((await owner.get(p)).status, 200, `owner ${p}`);
    }
    t.equal((await anonymous.post(`/alice/hub/runs/${train.id}/cancel`)).status, 403, 'anonymous POST without a session token: 403');
  });
});
