// The hook API's wire format, lines of text both ways, because the hook program is bash
// (hooks/mlgit-hook.bash) and starts fastest without a JSON tool. Request, one item a line:
//   secret <one-time secret>            started_at <epoch seconds, with decimals>
//   quarantine <GIT_* name> <path>      option <git push -o value>
//   <old sha> <new sha> <ref>           (git's own stdin lines, passed through)
// Answer: "ok" or "reject" on the first line, then the lines the pusher sees as `remote: `.
import type { RefUpdate } from '../../domain/model.ts';
import type { QuarantineEnv } from '../../domain/ports.ts';

export interface HookRequest {
  readonly secret: string;
  readonly updates: RefUpdate[];
  readonly quarantine: QuarantineEnv;
  readonly pushOptions: string[];
  /** When the hook process started (epoch ms), for the push's timeline. */
  readonly startedAt?: number;
}

const UPDATE = /^([0-9a-f]{40}) ([0-9a-f]{40}) (\S{1,1024})$/;
const QUARANTINE_NAMES = new Set(['GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH']);
const MAX_UPDATES = 100_000;
const MAX_OPTIONS = 100;
const MAX_OPTION_CHARS = 4096;

/** Parses a hook's request; throws an Error whose message says what is wrong. */
export function parseHookRequest(text: string): HookRequest {
  let secret = '';
  let startedAt: number | undefined;
  const updates: RefUpdate[] = [];
  const quarantine: Record<string, string> = {};
  const pushOptions: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const update = UPDATE.exec(line);
    if (update) {
      if (updates.length === MAX_UPDATES) throw new Error(`more than ${MAX_UPDATES} ref updates`);
      updates.push({ oldSha: update[1]!, newSha: update[2]!, ref: update[3]! });
      continue;
    }
    const space = line.indexOf(' ');
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    if (key === 'secret' && value.length <= 200) {
      secret = value;
    } else if (key === 'started_at' && /^\d+(\.\d+)?$/.test(value)) {
      startedAt = Number(value) * 1000;
    } else if (key === 'quarantine' && QUARANTINE_NAMES.has(value.slice(0, value.indexOf(' ')))) {
      quarantine[value.slice(0, value.indexOf(' '))] = value.slice(value.indexOf(' ') + 1);
    } else if (key === 'option' && value.length <= MAX_OPTION_CHARS && pushOptions.length < MAX_OPTIONS) {
      pushOptions.push(value);
    } else {
      throw new Error(`unexpected line "${line.slice(0, 80)}"`);
    }
  }
  if (!secret) throw new Error('no secret');
  return { secret, updates, quarantine, pushOptions, ...(startedAt === undefined ? {} : { startedAt }) };
}

/** The answer's text: the verdict line, then the messages. */
export function hookAnswer(ok: boolean, messages: readonly string[]): string {
  return [ok ? 'ok' : 'reject', ...messages].join('\n') + '\n';
}
