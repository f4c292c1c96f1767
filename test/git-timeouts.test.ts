import t from 'tap';
import net from 'node:net';
import { gitProcesses } from './helpers/git-processes.ts';
import { startServer } from './helpers/server.ts';

t.test('a stalled push is cut off by the idle timeout and its git process killed; it held a slot until then', async (t) => {
  const server = await startServer(t, {
    config: { git: { maxUploadRequestBytes: 10 * 1024 * 1024, maxPushBytes: 1024 ** 3, idleTimeoutMs: 1500, totalTimeoutMs: 60_000, maxPerRepo: 8, maxPerClient: 1 } },
  });
  const alice = await server.user('alice');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'slow' } });
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise<number>((resolve) => {
    const started = Date.now();
    socket.on('close', () => resolve(Date.now() - started));
  });
  socket.on('data', () => {});
  // The start of a push, then nothing: a client that went away without closing its socket.
  socket.write(
    'POST /alice/slow.git/git-receive-pack HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Basic ${Buffer.from(alice.tokenBasic).toString('base64')}\r\n` +
      'Content-Type: application/x-git-receive-pack-request\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4\r\n0094\r\n',
  );
  let running: string[] = [];
  for (let i = 0; i < 50 && running.length === 0; i++) {
    running = await gitProcesses(server.dataDir);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(running.length, 1, 'git receive-pack started');
  const refused = await fetch(`${server.url}/alice/slow.git/info/refs?service=git-upload-pack`, {
    headers: { authorization: `Basic ${Buffer.from(alice.tokenBasic).toString('base64')}` },
  });
  t.equal(refused.status, 429, 'one git process per client address: the second is refused');
  t.ok(Number(refused.headers.get('retry-after')) > 0, 'with Retry-After');
  const elapsed = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
  t.ok(elapsed > 0 && elapsed < 8000, `connection ended after ${elapsed} ms`);
  let left = running;
  for (let i = 0; i < 50 && left.length > 0; i++) {
    left = await gitProcesses(server.dataDir);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.same(left, [], 'the git process is gone');
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);
  const again = await fetch(`${server.url}/alice/slow.git/info/refs?service=git-upload-pack`);
  t.equal(again.status, 200, 'the slot was released when the stalled push was killed');
});
