import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GitSpawner } from '../server/adapters/git/git-spawner.ts';
import type { SpawnedGit } from '../server/adapters/git/spawned-git.ts';

const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function closed(child: SpawnedGit): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal }));
  });
}

async function text(stream: Readable | null): Promise<string> {
  let out = '';
  for await (const chunk of stream!) out += String(chunk);
  return out;
}

t.test('exit codes, stdout, stderr and an explicit environment', async (t) => {
  const spawner = new GitSpawner();
  const child = spawner.spawn('sh', ['-c', 'echo "out $FOO"; echo "err $HOME" >&2; exit 3'], { env: { ...ENV, FOO: 'bar' }, stdio: [false, true, true] });
  const [out, err, result] = await Promise.all([text(child.stdout), text(child.stderr), closed(child)]);
  t.equal(out, 'out bar\n');
  // Only what the caller passed: the server's own variables ($HOME) do not leak into the child.
  t.equal(err, 'err \n');
  t.same(result, { code: 3, signal: null });
  t.ok(child.pid, 'has a pid');

  const cwd = spawner.spawn('pwd', [], { cwd: '/tmp', env: ENV, stdio: [false, true, false] });
  t.equal(await text(cwd.stdout), '/tmp\n');
});

t.test('kill: before and after git has started; a missing program is an error', async (t) => {
  const spawner = new GitSpawner();
  const early = spawner.spawn('sleep', ['30'], { env: ENV, stdio: [false, false, false] });
  early.kill('SIGKILL');
  t.same(await closed(early), { code: null, signal: 'SIGKILL' });

  const late = spawner.spawn('sleep', ['30'], { env: ENV, stdio: [true, true, true] });
  await new Promise((r) => setTimeout(r, 100));
  late.kill();
  t.same(await closed(late), { code: null, signal: 'SIGTERM' });

  const missing = spawner.spawn('/nonexistent/git', [], { env: ENV, stdio: [true, true, true] });
  await t.rejects(closed(missing), /git could not be started: spawn \/nonexistent\/git ENOENT/);
});

t.test('a large payload streams through stdin and stdout with flat memory', async (t) => {
  const spawner = new GitSpawner();
  const child = spawner.spawn('cat', [], { env: ENV, stdio: [true, true, false] });
  const total = 512 * 1024 * 1024;
  const block = createHash('sha512').update('seed').digest();
  const chunk = Buffer.alloc(1024 * 1024).fill(block);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let receivedBytes = 0;
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const source = Readable.from(
    (function* () {
      for (let n = 0; n < total; n += chunk.length) {
        sent.update(chunk);
        yield chunk;
      }
    })(),
  );
  child.stdout!.on('data', (data: Buffer) => {
    receivedBytes += data.length;
    received.update(data);
  });
  await Promise.all([pipeline(source, child.stdin!), closed(child)]);
  clearInterval(sampler);
  t.equal(receivedBytes, total);
  t.equal(received.digest('hex'), sent.digest('hex'));
  t.ok(peak - baseline < 96 * 1024 * 1024, `rss grew ${((peak - baseline) / 2 ** 20).toFixed(0)} MB for 512 MB streamed`);
});

t.test('a child that stops reading fails the writer instead of hanging it', async (t) => {
  const spawner = new GitSpawner();
  const child = spawner.spawn('head', ['-c', '10'], { env: ENV, stdio: [true, true, false] });
  const source = Readable.from((function* () {
    for (let n = 0; n < 256; n += 1) yield Buffer.alloc(1024 * 1024);
  })());
  const [written, out, result] = await Promise.all([pipeline(source, child.stdin!).then(() => 'finished', (err: Error) => err.message), text(child.stdout), closed(child)]);
  t.not(written, 'finished', `the writer saw ${written}`);
  t.equal(out.length, 10);
  t.equal(result.code, 0);
});

t.test('the spawner is small; when it dies, in-flight starts fail clearly and the next start forks a new one', async (t) => {
  const spawner = new GitSpawner();
  const warm = spawner.spawn('true', [], { env: ENV, stdio: [false, false, false] });
  await closed(warm);
  const first = spawner.helperPid!;
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${first}/status`, 'utf8'))![1]) / 1024;
  t.ok(rssMb < 80, `spawner RSS ${rssMb.toFixed(0)} MB`);

  const running = spawner.spawn('sleep', ['30'], { env: ENV, stdio: [false, true, false] });
  await new Promise((r) => setTimeout(r, 200));
  const runningPid = running.pid!;
  process.kill(first, 'SIGKILL');
  await t.rejects(closed(running), /git spawner exited \(SIGKILL\); git was stopped/);
  await new Promise((r) => setTimeout(r, 100));
  // Gone, or a zombie nobody reaps (the container's pid 1 may not): in any case no longer running.
  const state = (() => {
    try {
      return readFileSync(`/proc/${runningPid}/stat`, 'utf8').split(') ')[1]![0];
    } catch {
      return 'gone';
    }
  })();
  t.ok(state === 'gone' || state === 'Z', `the orphaned child was stopped (${state})`);

  const after = spawner.spawn('sh', ['-c', 'echo again'], { env: ENV, stdio: [false, true, false] });
  // Both listened for at once: a close that comes while stdout is read must not be missed.
  const [out, result] = await Promise.all([text(after.stdout), closed(after)]);
  t.equal(out, 'again\n');
  t.same(result, { code: 0, signal: null });
  t.not(spawner.helperPid, first, 'a new spawner');
});
