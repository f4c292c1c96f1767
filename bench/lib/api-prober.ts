/**
 * Measures API latency from its own process: sequential `GET <url>?q=<word>` requests (one
 * connection, keep-alive) until told to stop, then sends the latencies (ms) to the parent.
 * argv: base URL, then the search words to cycle through.
 */
import { performance } from 'node:perf_hooks';

const [base, ...words] = process.argv.slice(2);
if (!base || words.length === 0) throw new Error('usage: api-prober <url> <word>...');
let running = true;
const latencies: number[] = [];
let errors = 0;
/** The first requests pay for JIT and cold caches: not what a running server answers with. */
const WARMUP = 20;

process.on('message', (message) => {
  if (message === 'stop') running = false;
});

void (async () => {
  for (let i = 0; running; i++) {
    const started = performance.now();
    const response = await fetch(`${base}?q=${encodeURIComponent(words[i % words.length]!)}&per_page=30`);
    await response.arrayBuffer();
    if (response.status !== 200) errors++;
    if (i >= WARMUP) latencies.push(performance.now() - started);
  }
  process.send!({ latencies, errors }, () => process.exit(0));
})();
