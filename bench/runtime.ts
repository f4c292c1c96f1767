/**
 * Container runtime benchmark: a job whose command is `true`, through mlgit's docker runtime
 * (create + attach + start + wait + remove over the Engine API) against `podman run --rm` of the
 * same image with the same container settings on the same engine, side by side; and through the
 * process runtime (bubblewrap).
 *
 *   node --import tsx bench/runtime.ts [--rounds 20] [--warmup 2]     (or BENCH_ROUNDS, BENCH_WARMUP)
 *
 * Exits non-zero only when a run fails; missed targets are reported, not fatal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { parseKnobs } from './lib/options.ts';
import { ensurePodman, JOB_IMAGE, podmanCli } from './lib/podman.ts';
import { runCommand } from './lib/run.ts';
import { median } from './lib/stats.ts';
import { createRuntime, type ContainerRuntime, type RunSpec } from '../runner/runtime/index.ts';

const KNOBS = {
  rounds: { flag: 'rounds', env: 'BENCH_ROUNDS', fallback: 20, min: 1 },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP', fallback: 2, min: 0 },
} as const;

const LIMITS = { cpus: 1, memoryBytes: 512 * 1024 * 1024, pids: 128 };
/** The issue's target for the whole runner cycle; the runtime's part must leave room for the rest. */
const RUNNER_CYCLE_TARGET_S = 1.5;

interface Sample {
  totalMs: number;
  /** run() called -> onStart (the container or process is running). */
  startMs?: number;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  cleanupOnSignals();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-runtime-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  log('podman: scripts/podman-setup.sh ...');
  const socket = ensurePodman();
  const docker = createRuntime({ kind: 'docker', dockerSocket: socket });
  const processRuntime = createRuntime({ kind: 'process' });
  onCleanup(() => docker.close());
  onCleanup(() => processRuntime.close());

  const samples = new Map<string, Sample[]>([['docker runtime', []], ['podman run --rm', []], ['process runtime', []]]);
  const contenders: Array<[string, () => Promise<Sample>]> = [
    ['docker runtime', () => viaRuntime(docker, scratch)],
    ['podman run --rm', () => viaPodmanCli(scratch)],
    ['process runtime', () => viaRuntime(processRuntime, scratch)],
  ];
  for (let round = -options.warmup; round < options.rounds; round += 1) {
    // Rotate who goes first, so drift on a shared machine favours nobody.
    const order = contenders.map((_, i) => contenders[(i + Math.abs(round)) % contenders.length] as [string, () => Promise<Sample>]);
    const line: string[] = [];
    for (const [label, measure] of order) {
      const sample = await measure();
      if (round >= 0) samples.get(label)?.push(sample);
      line.push(`${label} ${sample.totalMs.toFixed(0)} ms`);
    }
    log(`${round < 0 ? 'warm-up' : `round ${round + 1}/${options.rounds}`}: ${line.join(', ')}`);
  }
  printReport(options.rounds, samples, processRuntime.warnings);
  return 0;
}

async function viaRuntime(runtime: ContainerRuntime, scratch: string): Promise<Sample> {
  const workspace = await mkdtemp(path.join(scratch, 'ws-'));
  const outputs = await mkdtemp(path.join(scratch, 'out-'));
  let startMs: number | undefined;
  const began = performance.now();
  const spec: RunSpec = {
    image: JOB_IMAGE,
    commands: ['true'],
    workspace,
    outputs,
    env: {},
    limits: LIMITS,
    timeoutMs: 60_000,
    network: false,
    signal: new AbortController().signal,
    onStart: () => (startMs = performance.now() - began),
    onOutput: async () => {},
  };
  const result = await runtime.run(spec);
  const totalMs = performance.now() - began;
  if (result.outcome !== 'exited' || result.exitCode !== 0) throw new Error(`${runtime.name} runtime: \`true\` ended ${result.outcome} ${result.exitCode}`);
  return { totalMs, startMs };
}

/** The same container settings the docker runtime asks the API for, as podman CLI flags. */
async function viaPodmanCli(scratch: string): Promise<Sample> {
  const workspace = await mkdtemp(path.join(scratch, 'ws-'));
  const outputs = await mkdtemp(path.join(scratch, 'out-'));
  const cli = podmanCli();
  const args = [
    ...cli.args, 'run', '--rm', '--network', 'none', '--read-only', '--tmpfs', '/tmp:rw,nosuid,nodev,mode=1777',
    '--user', '65534:65534', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--cpus', String(LIMITS.cpus), '--memory', String(LIMITS.memoryBytes), '--memory-swap', String(LIMITS.memoryBytes),
    '--pids-limit', String(LIMITS.pids), '--ulimit', 'nofile=8192:8192', '--ulimit', 'nproc=4096:4096',
    '-v', `${workspace}:/workspace:rw`, '-v', `${outputs}:/outputs:rw`, '-w', '/workspace', JOB_IMAGE, 'true',
  ];
  const began = performance.now();
  const result = await runCommand(cli.command, args, { env: cli.env });
  const totalMs = performance.now() - began;
  if (result.code !== 0) throw new Error(`podman run exited ${result.code}: ${result.stderr.trim()}`);
  return { totalMs };
}

function printReport(rounds: number, samples: Map<string, Sample[]>, processWarnings: readonly string[]): void {
  const medianOf = (label: string, pick: (sample: Sample) => number | undefined): number =>
    median((samples.get(label) ?? []).map(pick).filter((value): value is number => value !== undefined));
  const dockerMs = medianOf('docker runtime', (s) => s.totalMs);
  const podmanMs = medianOf('podman run --rm', (s) => s.totalMs);
  const processMs = medianOf('process runtime', (s) => s.totalMs);
  const out = [
    '',
    `runtime benchmark (${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(2)}), ${rounds} rounds of \`true\``,
    `  docker runtime (Engine API, create+attach+start+wait+remove): median ${dockerMs.toFixed(0)} ms (container running after ${medianOf('docker runtime', (s) => s.startMs).toFixed(0)} ms)`,
    `  podman run --rm, same engine and settings:                  median ${podmanMs.toFixed(0)} ms`,
    `  process runtime (${processWarnings.some((w) => w.includes('sandboxed with bubblewrap')) ? 'bubblewrap' : 'no sandbox'}):                                  median ${processMs.toFixed(0)} ms (started after ${medianOf('process runtime', (s) => s.startMs).toFixed(0)} ms)`,
    '',
    `runtime true: docker ${(dockerMs / 1000).toFixed(3)}s vs podman run ${(podmanMs / 1000).toFixed(3)}s ratio ${(dockerMs / podmanMs).toFixed(2)}; ` +
      `process ${(processMs / 1000).toFixed(3)}s (runner full-cycle target < ${RUNNER_CYCLE_TARGET_S}s)`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await runBenchMain('runtime benchmark', main);
