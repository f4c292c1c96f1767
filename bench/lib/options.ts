/**
 * Benchmark knobs, from the environment or the command line (`--size-mb=20` or `--size-mb 20`);
 * the command line wins so a one-off run doesn't need to unset anything.
 */
export interface BenchOptions {
  /** Packed size of the repository cloned one at a time. */
  readonly sizeMb: number;
  readonly rounds: number;
  readonly concurrency: number;
  /** Packed size of the repository cloned concurrently. */
  readonly concurrentSizeMb: number;
  readonly concurrentRounds: number;
  /** Untimed clones per server before timing (page caches, JIT). The first also checks the refs, so one always runs. */
  readonly warmup: number;
  /** Only measure git http-backend (useful to check the harness without mlgit). */
  readonly referenceOnly: boolean;
}

interface Knob {
  readonly flag: string;
  readonly env: string;
  readonly fallback: number;
  readonly min: number;
}

const KNOBS = {
  sizeMb: { flag: 'size-mb', env: 'BENCH_SIZE_MB', fallback: 200, min: 1 },
  rounds: { flag: 'rounds', env: 'BENCH_ROUNDS', fallback: 5, min: 1 },
  concurrency: { flag: 'concurrency', env: 'BENCH_CONCURRENCY', fallback: 16, min: 1 },
  concurrentSizeMb: { flag: 'concurrent-size-mb', env: 'BENCH_CONCURRENT_SIZE_MB', fallback: 50, min: 1 },
  concurrentRounds: { flag: 'concurrent-rounds', env: 'BENCH_CONCURRENT_ROUNDS', fallback: 3, min: 1 },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP', fallback: 1, min: 0 },
} as const satisfies Record<string, Knob>;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = parseFlags(argv);
  const number = (knob: Knob): number => {
    const raw = flags.get(knob.flag) ?? env[knob.env];
    if (raw === undefined || raw === '') return knob.fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < knob.min) {
      throw new Error(`--${knob.flag} / ${knob.env} must be a whole number >= ${knob.min}, got "${raw}"`);
    }
    return value;
  };
  const referenceOnly = flags.has('reference-only') || env.BENCH_REFERENCE_ONLY === '1';
  return {
    sizeMb: number(KNOBS.sizeMb),
    rounds: number(KNOBS.rounds),
    concurrency: number(KNOBS.concurrency),
    concurrentSizeMb: number(KNOBS.concurrentSizeMb),
    concurrentRounds: number(KNOBS.concurrentRounds),
    warmup: number(KNOBS.warmup),
    referenceOnly,
  };
}

function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Set<string>([...Object.values(KNOBS).map((knob) => knob.flag), 'reference-only']);
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i] as string);
    if (!match?.[1] || !known.has(match[1])) throw new Error(`unknown argument "${argv[i]}"`);
    if (match[1] === 'reference-only') {
      flags.set(match[1], '1');
    } else if (match[2] !== undefined) {
      flags.set(match[1], match[2]);
    } else {
      i += 1;
      flags.set(match[1], argv[i] ?? '');
    }
  }
  return flags;
}
