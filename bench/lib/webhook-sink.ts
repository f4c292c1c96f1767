/**
 * A webhook receiver in its own process (so its work does not slow the server being measured):
 * answers 200, and for each delivery records enqueue-to-delivered latency from the
 * `bench_emitted_at` the bench put in the payload (epoch ms; one machine, one clock).
 * Prints its port, then answers the parent's "report" message over IPC.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const now = () => performance.timeOrigin + performance.now();
const latencies: number[] = [];
const deliveryIds = new Set<string>();
let duplicates = 0;
let first = Infinity;
let last = 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    const id = String(req.headers['x-mlgit-delivery']);
    if (deliveryIds.has(id)) duplicates++;
    deliveryIds.add(id);
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { bench_emitted_at?: number };
      if (typeof body.bench_emitted_at === 'number') {
        latencies.push(at - body.bench_emitted_at);
        first = Math.min(first, at);
        last = Math.max(last, at);
      }
    } catch {
      // not a bench event (a ping): ignored
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});

process.on('message', (message) => {
  if (message === 'report') {
    process.send!({ latencies, duplicates, first, last });
    latencies.length = 0;
    first = Infinity;
    last = 0;
  }
  if (message === 'stop') server.close(() => process.exit(0));
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address !== 'string') process.stdout.write(`${address.port}\n`);
});
