/**
 * Manifest validation benchmark (issue 4, "Quality bars", bench (c)): parse + schema + semantic
 * checks of a generated ~300-line mlproject.yaml, median over many runs, target < 20 ms.
 *
 *   node --import tsx bench/manifest.ts [--runs 200]
 *
 * (or BENCH_RUNS). Exits non-zero only when the manifest does not validate; a missed target is
 * reported, not fatal.
 */
import { parseManifest } from '../schema/manifest.ts';
import { median } from './lib/stats.ts';
import { generateLargeManifest } from './lib/large-manifest.ts';

const TARGET_MS = 20;
const WARMUP_RUNS = 20;

function runsOption(): number {
  const i = process.argv.indexOf('--runs');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.BENCH_RUNS;
  const n = raw === undefined ? 200 : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--runs must be a positive integer, got ${String(raw)}`);
  return n;
}

const runs = runsOption();
const text = generateLargeManifest();
const lineCount = text.split('\n').length - 1;
const options = { treeHasPath: () => true };

const check = parseManifest(text, options);
if (check.errors.length > 0) {
  console.error('generated manifest does not validate:', check.errors);
  process.exit(1);
}
for (let i = 0; i < WARMUP_RUNS; i++) parseManifest(text, options);

// Wall time is what a push waits for; CPU time is also printed because it is what the code costs
// on a busy machine (wall time there includes waiting for a core).
const times: number[] = [];
const cpuTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  parseManifest(text, options);
  times.push(performance.now() - start);
  const used = process.cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
}
times.sort((a, b) => a - b);
const med = median(times);
const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))] ?? med;
const verdict = med < TARGET_MS ? 'meets' : 'MISSES';
console.log(
  `manifest validation: ${lineCount} lines, ${text.length} bytes, ${runs} runs: ` +
    `median ${med.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, median CPU ${median(cpuTimes).toFixed(2)} ms ` +
    `(target < ${TARGET_MS} ms: ${verdict})`,
);
