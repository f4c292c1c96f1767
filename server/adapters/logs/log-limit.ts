import { Transform } from 'node:stream';

const TRUNCATED = '\n[mlgit] log truncated: this run printed more than the log limit; the rest was dropped\n';

export interface LogLimit {
  /** Passes at most `room` bytes (then one truncation notice, unless the log was full before). */
  readonly stream: Transform;
  /** Bytes of the append kept, and whether some were dropped (read after the stream ended). */
  result(): { written: number; truncated: boolean };
}

/** The per-run log bound every log store applies to an append, given the room its log has left. */
export function logLimit(room: number): LogLimit {
  const alreadyFull = room <= 0;
  let written = 0;
  let truncated = false;
  const stream = new Transform({
    transform(data: Buffer, _enc, done) {
      if (room <= 0) {
        // Keep reading so the sender is not left hanging, but store nothing more.
        const notice = !truncated && !alreadyFull;
        truncated = true;
        done(null, notice ? Buffer.from(TRUNCATED) : undefined);
        return;
      }
      const part = data.length > room ? data.subarray(0, room) : data;
      room -= part.length;
      written += part.length;
      if (part.length < data.length && !alreadyFull) {
        truncated = true;
        done(null, Buffer.concat([part, Buffer.from(TRUNCATED)]));
        return;
      }
      done(null, part);
    },
  });
  return { stream, result: () => ({ written, truncated }) };
}
