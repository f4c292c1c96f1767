/**
 * Reads mlgit's "git timings" debug lines (server/http/git/git-timeline.ts: one per git request,
 * logged when its git process exits, with named durations in ms) from the server's output, and
 * groups them per push: everything logged since the previous push, up to the receive-pack line.
 */
export interface GitTimingsTap {
  /** For startMlgit's onLine: takes the timing lines and every other debug/info log line off the console. */
  onLine(line: string): boolean;
  /** Phases of the push that just returned, summed over its requests; waits briefly for the line. */
  takePush(timeoutMs?: number): Promise<Map<string, number>>;
  /** Forgets what was logged so far (set-up pushes), after giving late lines `settleMs` to arrive. */
  clear(settleMs?: number): Promise<void>;
}

interface TimingLine {
  readonly service: string;
  readonly timings: Record<string, number>;
}

// pino levels: below warn is request chatter the bench asked for only to see the timing lines.
const WARN = 40;

export function gitTimingsTap(): GitTimingsTap {
  let pending: TimingLine[] = [];
  let wake: (() => void) | undefined;
  return {
    onLine(line) {
      let parsed: { level?: unknown; msg?: unknown; service?: unknown; timings?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return false;
      }
      if (parsed.msg === 'git timings' && typeof parsed.service === 'string' && typeof parsed.timings === 'object' && parsed.timings !== null) {
        pending.push({ service: parsed.service, timings: parsed.timings as Record<string, number> });
        wake?.();
      }
      return typeof parsed.level === 'number' && parsed.level < WARN;
    },
    async takePush(timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (!pending.some((l) => l.service === 'receive-pack') && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      const end = pending.findIndex((l) => l.service === 'receive-pack');
      if (end < 0) throw new Error('mlgit logged no "git timings" line for the push (is MLGIT_LOG_LEVEL=debug?)');
      const lines = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      return sumPhases(lines);
    },
    async clear(settleMs = 500) {
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      pending = [];
    },
  };
}

/** Sums phases by name; an advertisement's git time is its own phase, apart from receive-pack's. */
function sumPhases(lines: readonly TimingLine[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { service, timings } of lines) {
    for (const [phase, ms] of Object.entries(timings)) {
      const name = service.endsWith('advertisement') && phase === 'git' ? 'git.advertise-refs' : phase;
      sums.set(name, (sums.get(name) ?? 0) + ms);
    }
  }
  return sums;
}
