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

/** A whole-number option: `--flag N`, `--flag=N` or the environment variable `env`. */
export interface Knob {
  readonly flag: string;
  readonly env: string;
  readonly fallback: number;
  readonly min: number;
}

/** An on/off option: `--flag` or `env=1`. */
export interface Switch {
  readonly flag: string;
  readonly env: string;
}

export type ParsedKnobs<K extends Record<string, Knob>, S extends Record<string, Switch>> = { readonly [P in keyof K]: number } & {
  readonly [P in keyof S]: boolean;
};

const KNOBS = {
  sizeMb: { flag: 'size-mb', env: 'BENCH_SIZE_MB', fallback: 200, min: 1 },
  rounds: { flag: 'rounds', env: 'BENCH_ROUNDS', fallback: 5, min: 1 },
  concurrency: { flag: 'concurrency', env: 'BENCH_CONCURRENCY', fallback: 16, min: 1 },
  concurrentSizeMb: { flag: 'concurrent-size-mb', env: 'BENCH_CONCURRENT_SIZE_MB', fallback: 50, min: 1 },
  concurrentRounds: { flag: 'concurrent-rounds', env: 'BENCH_CONCURRENT_ROUNDS', fallback: 3, min: 1 },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP', fallback: 1, min: 0 },
} as const satisfies Record<string, Knob>;

const SWITCHES = {
  referenceOnly: { flag: 'reference-only', env: 'BENCH_REFERENCE_ONLY' },
} as const satisfies Record<string, Switch>;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  return parseKnobs(argv, env, KNOBS, SWITCHES);
}

/** Parses any set of knobs and switches; unknown arguments are an error. */
export function parseKnobs<K extends Record<string, Knob>, S extends Record<string, Switch>>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  knobs: K,
  switches: S,
): ParsedKnobs<K, S> {
  const switchFlags = new Set(Object.values(switches).map((entry) => entry.flag));
  const flags = parseFlags(argv, new Set(Object.values(knobs).map((knob) => knob.flag)), switchFlags);
  const number = (knob: Knob): number => {
    const raw = flags.get(knob.flag) ?? env[knob.env];
    if (raw === undefined || raw === '') return knob.fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < knob.min) {
      throw new Error(`--${knob.flag} / ${knob.env} must be a whole number >= ${knob.min}, got "${raw}"`);
    }
    return value;
  };
  const parsed: Record<string, number | boolean> = {};
  for (const [key, knob] of Object.entries(knobs)) parsed[key] = number(knob);
  for (const [key, entry] of Object.entries(switches)) parsed[key] = flags.has(entry.flag) || env[entry.env] === '1';
  return parsed as ParsedKnobs<K, S>;
}

function parseFlags(argv: readonly string[], valued: ReadonlySet<string>, switches: ReadonlySet<string>): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(argv[i] as string);
    if (!match?.[1] || !(valued.has(match[1]) || switches.has(match[1]))) throw new Error(`unknown argument "${argv[i]}"`);
    if (switches.has(match[1])) {
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
