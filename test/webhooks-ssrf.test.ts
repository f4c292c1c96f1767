import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { HttpWebhookSender } from '../server/adapters/webhooks/http-sender.ts';
import { buildAllowList, refusal } from '../server/domain/ssrf-guard.ts';
import { backoffMs, judge, parseRetryAfter } from '../server/domain/webhook-delivery.ts';
import { SecretBox } from '../server/domain/secret-box.ts';
import { startServer } from './helpers/server.ts';
import { WebhookReceiver } from './helpers/webhook-receiver.ts';

const NOBODY = buildAllowList([]);

t.test('the guard judges resolved addresses', async (t) => {
  const cases: [string, string, boolean][] = [
    ['127.0.0.1', '127.0.0.1', false],
    ['127.1.2.3', '127.1.2.3', false],
    ['::1', '::1', false],
    ['169.254.169.254', '169.254.169.254', false],
    ['10.1.2.3', '10.1.2.3', false],
    ['172.20.0.1', '172.20.0.1', false],
    ['192.168.1.1', '192.168.1.1', false],
    ['100.64.0.1', '100.64.0.1', false],
    ['0.0.0.0', '0.0.0.0', false],
    ['224.0.0.1', '224.0.0.1', false],
    ['fe80::1', 'fe80::1', false],
    ['fd00:ec2::254', 'fd00:ec2::254', false],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', '::ffff:7f00:1', false],
    ['::ffff:a9fe:a9fe', '::ffff:a9fe:a9fe', false],
    ['localhost', '127.0.0.1', false],
    ['93.184.215.14', '93.184.215.14', true],
    ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', true],
    ['example.com', '8.8.8.8', true],
  ];
  for (const [host, address, allowed] of cases) {
    const reason = refusal(host, address, NOBODY);
    t.equal(reason === null, allowed, `${host} -> ${address}: ${reason ?? 'allowed'}`);
  }
  const allow = buildAllowList(['127.0.0.1', '10.0.0.0/8', 'ci.internal']);
  t.equal(refusal('127.0.0.1', '127.0.0.1', allow), null, 'allow-listed address');
  t.equal(refusal('x', '10.9.9.9', allow), null, 'inside an allow-listed range');
  t.equal(refusal('ci.internal', '192.168.0.7', allow), null, 'allow-listed host name');
  t.not(refusal('127.0.0.2', '127.0.0.2', allow), null, 'the rest of 127/8 is still refused');
  t.throws(() => buildAllowList(['10.0.0.0/33']), /invalid webhook allow-list entry/);
});

t.test('IPv6 forms that carry an IPv4 address are judged by that address', async (t) => {
  // [address, why, allowed]: Teredo's client is the last 32 bits inverted (8.8.8.8 -> f7f7:f7f7,
  // 127.0.0.1 -> 80ff:fffe); its server is bits 32-63 (65.54.227.120 = 4136:e378).
  const cases: [string, string, boolean][] = [
    ['::7f00:1', 'IPv4-compatible loopback (http://[::127.0.0.1]/ as the URL parser stores it)', false],
    ['::127.0.0.1', 'IPv4-compatible loopback, dotted', false],
    ['::a9fe:a9fe', 'IPv4-compatible metadata address', false],
    ['::a00:1', 'IPv4-compatible 10.0.0.1', false],
    ['::808:808', 'IPv4-compatible public address', true],
    ['::ffff:7f00:1', 'IPv4-mapped loopback', false],
    ['::ffff:c0a8:101', 'IPv4-mapped 192.168.1.1', false],
    ['::ffff:8.8.8.8', 'IPv4-mapped public address', true],
    ['::ffff:0:7f00:1', 'SIIT-translated loopback', false],
    ['::ffff:0:808:808', 'SIIT-translated public address', true],
    ['2002:7f00:1::', '6to4 of 127.0.0.1', false],
    ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254', false],
    ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1', false],
    ['2002:808:808::1', '6to4 of a public address', true],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo client 127.0.0.1', false],
    ['2001:0:4136:e378:8000:63bf:5601:5656', 'Teredo client 169.254.169.254', false],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo server 10.0.0.1', false],
    ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'Teredo, public server and client', true],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1', false],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254', false],
    ['64:ff9b::808:808', 'NAT64 of a public address', true],
    ['64:ff9b:1::808:808', 'NAT64 local-use prefix (RFC 8215)', false],
    ['64:ff9b:1:7f00:1::', 'NAT64 local-use /48 with 127.0.0.1 after the prefix', false],
    ['2606:4700::6810:84e5', 'an ordinary public IPv6 address', true],
  ];
  for (const [address, why, allowed] of cases) {
    const reason = refusal(address, address, NOBODY);
    t.equal(reason === null, allowed, `${why} (${address}): ${reason ?? 'allowed'}`);
  }
  const allow = buildAllowList(['127.0.0.1', '2002:a9fe:a9fe::/48']);
  t.equal(refusal('x', '::7f00:1', allow), null, 'an allow-listed IPv4 address is allowed in any IPv6 form');
  t.equal(refusal('x', '2002:7f00:1::', allow), null, '6to4 of an allow-listed IPv4 address');
  t.equal(refusal('x', '2002:a9fe:a9fe::1', allow), null, 'an allow-listed IPv6 range');
  t.not(refusal('x', '2002:7f00:2::', allow), null, '6to4 of 127.0.0.2 stays refused');
});

t.test('config rejects a malformed allow-list entry by name', async (t) => {
  t.throws(() => loadConfig({ MLGIT_WEBHOOK_ALLOW: 'ok.example, not a host' }), /MLGIT_WEBHOOK_ALLOW: "not a host"/);
  t.throws(() => loadConfig({ MLGIT_SECRET_KEY: 'short' }), /MLGIT_SECRET_KEY/);
  t.same(loadConfig({ MLGIT_WEBHOOK_ALLOW: '127.0.0.1, ::1,10.0.0.0/8,ci.internal' }).webhooks.allow, ['127.0.0.1', '::1', '10.0.0.0/8', 'ci.internal']);
});

t.test('backoff grows exponentially with jitter, Retry-After is read, answers are judged', async (t) => {
  t.equal(backoffMs(1, 1000, 60_000, () => 0), 500);
  t.equal(backoffMs(1, 1000, 60_000, () => 1), 1000);
  t.equal(backoffMs(4, 1000, 60_000, () => 1), 8000);
  t.equal(backoffMs(20, 1000, 60_000, () => 1), 60_000, 'capped');
  t.equal(parseRetryAfter('7'), 7000);
  t.equal(parseRetryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now()) !== null, true);
  t.equal(parseRetryAfter('soon'), null);
  const response = (status: number, headers: Record<string, string> = {}) => ({ kind: 'response' as const, status, headers, body: '', durationMs: 1 });
  t.same(judge(response(204)), { status: 'delivered' });
  t.match(judge(response(500)), { status: 'retry' });
  t.match(judge(response(429, { 'retry-after': '3' })), { status: 'retry', retryAfterMs: 3000 });
  t.match(judge(response(404)), { status: 'failed' });
  t.match(judge(response(301)), { status: 'failed' });
  t.match(judge({ kind: 'error', message: 'x', retryable: true, durationMs: 1 }), { status: 'retry' });
  t.match(judge({ kind: 'error', message: 'x', retryable: false, durationMs: 1 }), { status: 'failed' });
});

t.test('secret box: round trip, tamper-evident, key-bound', async (t) => {
  const box = new SecretBox('k'.repeat(32));
  const sealed = box.seal('hunter2');
  t.not(sealed, box.seal('hunter2'), 'a fresh IV each time');
  t.equal(box.open(sealed), 'hunter2');
  const parts = sealed.split('.');
  parts[3] = Buffer.from('hunter3').toString('base64url');
  t.throws(() => box.open(parts.join('.')));
  t.throws(() => new SecretBox('q'.repeat(32)).open(sealed), 'another key cannot open it');
});

t.test('SSRF attempts are refused without the allow-list, before any connection', async (t) => {
  const receiver = await WebhookReceiver.start(t);
  const port = receiver.port;
  const sender = new HttpWebhookSender({ allow: NOBODY, followRedirects: true });
  const targets = [
    `http://127.0.0.1:${port}/`,
    `http://[::1]:${port}/`,
    'http://169.254.169.254/latest/meta-data/',
    `http://0x7f.1:${port}/`,
    `http://2130706433:${port}/`,
    `http://localhost:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[::127.0.0.1]:${port}/`,
    `http://[2002:7f00:1::]:${port}/`,
    `http://[64:ff9b::a9fe:a9fe]/`,
    'http://0/',
  ];
  for (const url of targets) {
    const outcome = await sender.send({ url, headers: {}, body: '{}', timeoutMs: 1000 });
    t.match(outcome, { kind: 'error', retryable: false }, `${url} refused`);
    if (outcome.kind === 'error') t.match(outcome.message, /loopback, private, link-local or reserved/);
    t.match(await sender.vet(url), /loopback, private/, `${url} refused at configuration time too`);
  }
  t.equal(receiver.received.length, 0, 'nothing reached the receiver');

  const server = await startServer(t, { database: 'pglite', config: { webhooks: { ...loadConfig({}).webhooks, allow: [] } } });
  const alice = await server.user('alice');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'm' } });
  for (const url of targets) {
    const refused = await server.api('POST', '/api/v1/repos/alice/m/hooks', { auth: alice.basic, body: { url } });
    t.equal(refused.status, 422, `API refuses ${url}`);
    t.match(refused.body.error.message, /url refused/);
  }
  t.equal(receiver.received.length, 0);
});

t.test('redirects: each hop is checked, so a redirect to a private address is refused', async (t) => {
  const receiver = await WebhookReceiver.start(t);
  const sender = new HttpWebhookSender({ allow: buildAllowList(['127.0.0.1']), followRedirects: true });
  for (const location of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://127.0.0.2/', 'http://[::1]/']) {
    receiver.answer = () => ({ status: 307, headers: { location } });
    const before = receiver.received.length;
    const outcome = await sender.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 2000 });
    t.match(outcome, { kind: 'error', retryable: false }, `redirect to ${location} refused`);
    t.equal(receiver.received.length, before + 1, 'only the first hop was sent');
  }
  receiver.answer = (i) => (i % 2 === 0 ? { status: 308, headers: { location: '/elsewhere' } } : { status: 200, body: 'landed' });
  receiver.received.length = 0;
  const followed = await sender.send({ url: receiver.url, headers: {}, body: '{"a":1}', timeoutMs: 2000 });
  t.match(followed, { kind: 'response', status: 200, body: 'landed' }, 'an allowed redirect is followed');
  t.equal(receiver.received[1]!.body, '{"a":1}', 'with the same body');

  const big = 'x'.repeat(200 * 1024);
  receiver.answer = () => ({ status: 200, body: big });
  const truncated = await sender.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 2000 });
  t.equal(truncated.kind === 'response' && truncated.body.length, 64 * 1024, 'only the first 64 KiB of an answer is kept');
});

t.test('an answer cut off or stalled mid-body settles the attempt as a retryable error', async (t) => {
  const http = await import('node:http');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
    if (_req.url === '/cut') setTimeout(() => res.destroy(), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const sender = new HttpWebhookSender({ allow: buildAllowList(['127.0.0.1']), followRedirects: false });
  const cut = await sender.send({ url: `http://127.0.0.1:${port}/cut`, headers: {}, body: '{}', timeoutMs: 2000 });
  t.match(cut, { kind: 'error', retryable: true });
  const stalled = await sender.send({ url: `http://127.0.0.1:${port}/stall`, headers: {}, body: '{}', timeoutMs: 300 });
  t.match(stalled, { kind: 'error', retryable: true });
  t.ok(stalled.durationMs < 1500, `gave up after ${Math.round(stalled.durationMs)} ms`);
});
