// The web UI's metrics views (issue 10, views 7, 8 and 10): metrics across commits (charts from a
// JSON block, the sortable table twin, CSV), compare (metric deltas with regression marks, params,
// the manifest's diff) and status badges; hostile metric names and commit titles stay text in the
// HTML, the JSON block and the SVG. Plus unit tests of the downsampling and the line diff.
import t from 'tap';
import { downsampleMinMax } from '../server/web/downsample.ts';
import { diffLines } from '../server/web/line-diff.ts';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { WebClient } from './helpers/web-client.ts';

const HOSTILE = `<script>alert("m")</script>'"`;
const PROJECT = manifest(`params:
  schema:
    lr: {type: float, default: 0.1, min: 0}
    batch: {type: int, default: 16}
jobs:
  train:
    kind: train
    command: cp m.json metrics.json
    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize}}
    timeout: 1m
compare:
  baseline: main
  thresholds: {accuracy: {max_drop: 0.01}}
triggers:
  push: {branches: [main, exp]}
`);
// Metric names in files are restricted ([A-Za-z0-9_./@:-]); CI status contexts (jobs `ci:<context>`) and query keys are not.
const metricsFile = (accuracy: number) => JSON.stringify({ accuracy, loss: 1 - accuracy });

t.test('downsampling keeps the extremes and at most 1500 points', async (t) => {
  const points = Array.from({ length: 100_000 }, (_, i) => ({ i, v: Math.sin(i / 50) * 10 + (i === 4242 ? 1000 : 0) - (i === 77_777 ? 500 : 0) }));
  const out = downsampleMinMax(points, (p) => p.v, 1500);
  t.ok(out.length <= 1500, `${out.length} points`);
  t.ok(out.length > 1000, 'most of the budget is used');
  t.ok(out.some((p) => p.i === 4242), 'the maximum is kept');
  t.ok(out.some((p) => p.i === 77_777), 'the minimum is kept');
  t.equal(out[0]!.i, 0, 'first point');
  t.equal(out.at(-1)!.i, 99_999, 'last point');
  t.ok(out.every((p, k) => k === 0 || p.i > out[k - 1]!.i), 'order kept');
  t.same(downsampleMinMax([1, 2, 3], (v) => v), [1, 2, 3], 'a short series is unchanged');
});

t.test('line diff', async (t) => {
  const ops = (a: string[], b: string[]) => diffLines(a, b).map((l) => `${l.op === 'same' ? ' ' : l.op === 'add' ? '+' : '-'}${l.text}`);
  t.same(ops(['a', 'b', 'c'], ['a', 'x', 'c']), [' a', '-b', '+x', ' c']);
  t.same(ops([], ['a']), ['+a']);
  t.same(ops(['a', 'b'], []), ['-a', '-b']);
  t.same(ops(['a', 'b', 'c', 'd'], ['b', 'c', 'd', 'e']), ['-a', ' b', ' c', ' d', '+e']);
  t.same(ops(['x', 'a', 'y'], ['x', 'b', 'y'], ), [' x', '-a', '+b', ' y']);
  const numbered = diffLines(['a', 'b', 'c'], ['a', 'c', 'd']);
  t.same(numbered.map((l) => [l.oldNo, l.newNo]), [[1, 1], [2, null], [3, 2], [null, 3]]);
  t.same(
    diffLines(['1', '2', '3'], ['4', '5'], 1).map((l) => l.op),
    ['del', 'del', 'del', 'add', 'add'],
    'past the cell cap: the middle is replaced whole',
  );
});

t.test('metrics, compare and badge pages', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const bob = await server.user('bob');
  const project = await pushProject(server, client, alice, 'proj', { 'mlproject.yaml': PROJECT, 'params.yaml': 'lr: 0.1\n', 'm.json': metricsFile(0.8) });
  t.equal(project.push.code, 0, project.push.stderr);
  const shas = [project.sha];
  await waitForRuns(server, alice.basic, 'alice/proj', project.sha);
  shas.push(await client.commit(project.dir, { 'm.json': metricsFile(0.9) }, `better ${HOSTILE}`));
  await client.ok(['push', '-q', 'origin', 'main'], { cwd: project.dir });
  await waitForRuns(server, alice.basic, 'alice/proj', shas[1]!);
  await client.ok(['checkout', '-q', '-b', 'exp'], { cwd: project.dir });
  const exp = await client.commit(project.dir, { 'm.json': metricsFile(0.95) }, 'experiment');
  await client.ok(['push', '-q', 'origin', 'exp'], { cwd: project.dir });
  await client.ok(['checkout', '-q', 'main'], { cwd: project.dir });
  shas.push(await client.commit(project.dir, { 'm.json': metricsFile(0.7), 'params.yaml': 'lr: 0.2\nbatch: 32\n', 'mlproject.yaml': PROJECT.replace('timeout: 1m', 'timeout: 2m') }, 'worse'));
  await client.ok(['push', '-q', 'origin', 'main'], { cwd: project.dir });
  for (const sha of [shas[2]!, exp]) {
    const [run] = await waitForRuns(server, alice.basic, 'alice/proj', sha);
    t.equal(run.status, 'success', run.message ?? '');
  }
  const lastRun = (await waitForRuns(server, alice.basic, 'alice/proj', shas[2]!))[0];
  await eventually(async () => (await server.api('GET', `/api/v1/repos/alice/proj/runs/${lastRun.id}`, { auth: alice.basic })).body, (run) => run.comparison != null, 'the comparison of the worse run');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'secret', private: true } });
  for (const [sha, latency] of [[shas[1]!, 5], [shas[2]!, 7]] as const) {
    const posted = await server.api('POST', `/api/v1/repos/alice/proj/statuses/${sha}`, { auth: alice.basic, body: { state: 'success', context: HOSTILE, metrics: { latency } } });
    t.equal(posted.status, 201);
  }

  const anonymous = new WebClient(server.url);
  const owner = new WebClient(server.url);
  const outsider = new WebClient(server.url);
  t.equal((await owner.signIn('alice', alice.password)).status, 303);
  t.equal((await outsider.signIn('bob', bob.password)).status, 303);

  await t.test('metrics page: table rows, JSON block, threshold, best, sorting, hostile names', async (t) => {
    const page = await anonymous.get('/alice/proj/metrics');
    t.equal(page.status, 200);
    t.equal(page.title, 'Metrics · alice/proj · mlgit');
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    const table = /<table class="metrics" id="table-0">([\s\S]*?)<\/table>/.exec(page.text)?.[1] ?? '';
    const rows = [...table.matchAll(/<tr data-x="(\d+)" data-value="([^"]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    t.same(rows, [[0, 0.8], [1, 0.9], [2, 0.7]], 'the default key is the primary metric, one row per main commit, in commit order');
    t.match(table, new RegExp(`href="/alice/proj/commit/${shas[1]}"`), 'rows link to the commit page');
    t.match(page.text, /threshold \(max_drop 0\.01\): 0\.89/, 'the threshold line from the manifest: baseline 0.9 - 0.01');
    t.match(page.text, /best: 0\.9 at/, 'best marked');
    const json = /<script type="application\/json" id="metrics-data">([^<]*)<\/script>/.exec(page.text)?.[1];
    t.ok(json, 'the JSON data block');
    const data = JSON.parse(json!);
    t.same(data.charts[0].series[0].points.map((p: any[]) => [p[0], p[1], p[2]]), [[0, 0.8, shas[0]], [1, 0.9, shas[1]], [2, 0.7, shas[2]]]);
    t.equal(data.charts[0].threshold.value.toFixed(4), '0.8900');
    t.equal(data.charts[0].goal, 'maximize');
    t.match(page.text, /<script src="\/static\/chart\.[0-9a-f]+\.js" defer><\/script>/, 'the external chart script');
    t.notMatch(page.text, /<script>alert/, 'no hostile commit title as markup');
    t.notMatch(json!, /</, 'no < in the JSON block');
    t.match(json!, /better \\u003cscript\\u003ealert/, 'the title escaped as \\u003c');

    const sortedDesc = await anonymous.get('/alice/proj/metrics?sort=value&dir=desc');
    const values = [...sortedDesc.text.matchAll(/<tr data-x="\d+" data-value="([^"]+)"/g)].map((m) => Number(m[1]));
    t.same(values, [0.9, 0.8, 0.7], 'sorted by value on the server (no JS)');

    const hostile = await anonymous.get(`/alice/proj/metrics?key=${encodeURIComponent(HOSTILE)}&key=loss`);
    t.equal(hostile.status, 200);
    t.match(hostile.text, /<h3>&lt;script&gt;alert\(&quot;m&quot;\)&lt;\/script&gt;&#39;&quot;<\/h3>/, 'the hostile metric name escaped in the HTML');
    t.notMatch(hostile.text, /<script>alert/);
    const hostileJson = /<script type="application\/json" id="metrics-data">([^<]*)<\/script>/.exec(hostile.text)![1]!;
    t.equal(JSON.parse(hostileJson).charts[0].key, HOSTILE, 'the JSON block round-trips the name');
    t.equal(JSON.parse(hostileJson).charts[1].key, 'loss');
    t.equal(JSON.parse(hostileJson).charts[1].best, null, 'no goal declared for loss: no best point');
    const scripts = [...hostile.text.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
    t.same(scripts.filter((s) => !/^<script (src="\/static\/(site|chart)\.[0-9a-f]+\.js" defer|type="application\/json" id="metrics-data")>$/.test(s)), [], 'only the UI own scripts');

    const ci = await anonymous.get('/alice/proj/metrics?key=latency');
    t.match(ci.text, /ci:&lt;script&gt;alert\(&quot;m&quot;\)&lt;\/script&gt;&#39;&quot;<\/a>/, 'the hostile job escaped in the table');
    t.notMatch(ci.text, /<script>alert/);
    const ciData = JSON.parse(/id="metrics-data">([^<]*)</.exec(ci.text)![1]!);
    t.equal(ciData.charts[0].series[0].name, `ci:${HOSTILE}`, 'the JSON block round-trips the job name');
    const overlay = await anonymous.get('/alice/proj/metrics?ref=main&ref=exp&key=accuracy');
    const overlayData = JSON.parse(/id="metrics-data">([^<]*)</.exec(overlay.text)![1]!);
    t.same(overlayData.charts[0].series.map((s: any) => s.name), ['main · train', 'exp · train'], 'two branches overlaid');
    t.same(overlayData.charts[0].series[1].points.map((p: any[]) => p[1]), [0.8, 0.9, 0.95]);
    t.equal(overlayData.charts[0].best.value, 0.95);

    const chart = await anonymous.get(/<script src="(\/static\/chart\.[0-9a-f]+\.js)"/.exec(page.text)![1]!);
    t.equal(chart.status, 200);
    t.match(chart.headers.get('content-type'), /javascript/);
    t.ok(chart.text.length < 60_000, `chart.js ${chart.text.length} bytes`);
    const home = await anonymous.get('/alice/proj');
    t.notMatch(home.text, /chart\./, 'ordinary pages do not load the chart script');
  });

  await t.test('CSV download', async (t) => {
    const csv = await anonymous.get(`/alice/proj/metrics?key=accuracy&key=${encodeURIComponent(HOSTILE)}&format=csv`);
    t.equal(csv.status, 200);
    t.match(csv.headers.get('content-type'), /^text\/csv/);
    t.match(csv.headers.get('content-disposition'), /^attachment; filename="alice-proj-metrics\.csv"/);
    const lines = csv.text.trim().split('\r\n');
    t.equal(lines[0], 'metric,branch,job,commit,date,title,run,value');
    t.equal(lines.length, 4, 'a header and three rows (no values of the hostile key)');
    t.match(lines[2], new RegExp(`^"accuracy","main","train","${shas[1]}",".*","better <script>alert\\(""m""\\)</script>'""",\\d+,0\\.9$`));
  });

  await t.test('compare page: deltas, regression mark, params, manifest diff', async (t) => {
    const page = await anonymous.get(`/alice/proj/compare/${shas[1]}...${shas[2]}`);
    t.equal(page.status, 200);
    const accuracy = /<tr class="regressed-row"><td>accuracy<\/td>(.*?)<\/tr>/.exec(page.text)?.[1] ?? '';
    t.match(accuracy, /<td class="num">0\.9<\/td><td class="num">0\.7<\/td><td class="num">-0\.2 \(-22\.22%\)<\/td><td>maximize<\/td>/, 'base, head and delta');
    t.match(accuracy, /▼ regressed/, 'the regression mark');
    t.match(page.text, /<td>loss<\/td><td class="num">0\.1<\/td><td class="num">0\.3<\/td><td class="num">\+0\.2/, 'loss (no goal) with its delta');
    t.match(page.text, /<tr class="changed"><td>lr<\/td><td class="mono">0\.1<\/td><td class="mono">0\.2<\/td><\/tr>/, 'params side by side');
    t.match(page.text, /<tr class="changed"><td>batch<\/td><td class="mono">16<\/td><td class="mono">32<\/td><\/tr>/, 'schema defaults, then params.yaml');
    t.match(page.text, /<tr class="del"><td class="ln">\d+<\/td><td class="ln"><\/td><td>- {5}timeout: 1m<\/td><\/tr>/, 'the manifest diff: removed line');
    t.match(page.text, /<tr class="add"><td class="ln"><\/td><td class="ln">\d+<\/td><td>\+ {5}timeout: 2m<\/td><\/tr>/, 'the manifest diff: added line');
    t.match(page.text, /<tr class="add"><td class="ln"><\/td><td class="ln">2<\/td><td>\+ batch: 32<\/td><\/tr>/, 'the params.yaml diff');
    t.match(page.text, /<h3>ci:&lt;script&gt;alert\(&quot;m&quot;\)&lt;\/script&gt;&#39;&quot; <span/, 'hostile job (CI context) escaped');
    t.match(page.text, /<td>latency<\/td><td class="num">5<\/td><td class="num">7<\/td>/);
    t.notMatch(page.text, /<script>alert/);

    const byBranch = await anonymous.get('/alice/proj/compare/main...exp');
    t.equal(byBranch.status, 200, 'refs by name');
    t.match(byBranch.text, /▲ better/, 'exp improves accuracy');
    const picker = await anonymous.get('/alice/proj/compare?base=main&head=exp');
    t.equal(picker.status, 303);
    t.equal(picker.headers.get('location'), '/alice/proj/compare/main...exp', 'the picker form redirects without JS');
    t.equal((await anonymous.get('/alice/proj/compare')).status, 200);
    t.equal((await anonymous.get('/alice/proj/compare/main')).status, 404);
    t.equal((await anonymous.get('/alice/proj/compare/main...nope')).status, 404);
  });

  await t.test('badges', async (t) => {
    const passing = await anonymous.get('/alice/proj/badges/main/train.svg');
    t.equal(passing.status, 200);
    t.equal(passing.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    t.equal(passing.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    t.match(passing.headers.get('cache-control'), /no-cache/);
    t.match(passing.text, /<title>train: passing<\/title>/);
    t.match(passing.text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const unknown = await anonymous.get('/alice/proj/badges/nobranch/train.svg');
    t.match(unknown.text, /<title>train: unknown<\/title>/, 'no runs: unknown');
    const hostile = await anonymous.get(`/alice/proj/badges/main/${encodeURIComponent(HOSTILE)}.svg`);
    t.equal(hostile.status, 200);
    t.match(hostile.text, /<title>&lt;script&gt;alert\(&quot;m&quot;\)&lt;\/script&gt;&#39;&quot;: unknown<\/title>/, 'the job name escaped in the SVG');
    t.notMatch(hostile.text, /<script/);
    const missing = await anonymous.get('/alice/nothing/badges/main/train.svg');
    const privateAnon = await anonymous.get('/alice/secret/badges/main/train.svg');
    const privateOutsider = await outsider.get('/alice/secret/badges/main/train.svg');
    t.equal(missing.status, 404);
    t.equal(privateAnon.status, 404, 'a private badge is a 404 anonymously, not a sign-in redirect');
    t.equal(privateOutsider.status, 404);
    t.equal(privateAnon.text, missing.text, 'the same 404 as a missing repository');
    t.equal((await owner.get('/alice/secret/badges/main/train.svg')).status, 200, 'the owner sees it with a session');
    t.equal((await anonymous.get('/alice/proj/badges/main/train.png')).status, 404);
  });

  await t.test('access: private repository pages', async (t) => {
    for (const path of ['/alice/secret/metrics', '/alice/secret/compare', '/alice/secret/compare/main...main']) {
      const anon = await anonymous.get(path);
      t.equal(anon.status, 303, `${path}: anonymous to sign-in`);
      t.match(anon.headers.get('location'), /^\/login\?next=/);
      t.equal((await outsider.get(path)).status, 404, `${path}: outsider 404`);
    }
    t.equal((await owner.get('/alice/secret/metrics')).status, 200, 'owner: an empty repo has an empty metrics page');
    t.equal((await owner.get('/alice/secret/compare')).status, 200);
  });
});
