/**
 * Teardown steps registered as resources are created, run newest first exactly once: on normal
 * completion, on error, and on Ctrl-C, so no server or temp dir outlives the benchmark.
 */
type Step = () => Promise<void>;

const steps: Step[] = [];
let running: Promise<void> | undefined;

export function onCleanup(step: Step): void {
  steps.push(step);
}

export function runCleanup(): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) {
      const step = steps.pop() as Step;
      try {
        await step();
      } catch (error) {
        process.stderr.write(`cleanup step failed: ${String(error)}\n`);
      }
    }
  })();
  return running;
}

/** True once teardown began: errors from work it interrupted are expected, not worth reporting. */
export function isCleaningUp(): boolean {
  return running !== undefined;
}

/** Ctrl-C or a kill should still stop the servers; exit with the conventional 128 + signal. */
export function cleanupOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping servers...\n`);
      void runCleanup().finally(() => process.exit(code));
    });
  }
}

/** Runs a benchmark's main, always cleans up, and exits with its code (1 when it threw). */
export async function runBenchMain(label: string, main: () => Promise<number>): Promise<never> {
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (error) {
    if (!isCleaningUp()) process.stderr.write(`${label} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await runCleanup();
  }
  process.exit(exitCode);
}
