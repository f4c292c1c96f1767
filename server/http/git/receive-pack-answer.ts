// git receive-pack's answer to a push, passed through to the client, with mlgit's post-receive
// step done in between: receive-pack ends its answer with a flush packet; that packet is held back
// while the push is recorded (its runs created), and the lines for the pusher go out before it on
// side band 2, where git prints a post-receive hook's output ("remote: ..."). The same bytes on the
// wire as with a hook, one process fewer per push (gitprotocol-pack(5), "Report Status").
import { Transform, type Readable } from 'node:stream';
import { FLUSH, pktLine } from './pkt-line.ts';

/** Runs once git has answered, with the refs its report says it updated; resolves with the lines for the pusher. */
export type AfterReceive = (updatedRefs: ReadonlySet<string> | null) => Promise<readonly string[]>;

const BAND_DATA = 1;
const BAND_PROGRESS = 2;
/** A report line or a side-band packet is far smaller; more would not be git speaking. */
const MAX_PACKET = 65520;

/**
 * `stdout` as the client gets it, its last flush held until `after` has settled. `after` gets
 * the refs the report-status names "ok", or null when there is none (a client that asked for no
 * report, or an answer cut short), and is not called when the answer ends in an error. It starts
 * as soon as the report is complete, while git finishes its own work.
 */
export function receivePackAnswer(stdout: Readable, after: AfterReceive): Readable {
  let started: Promise<readonly string[]> | undefined;
  const start = (refs: ReadonlySet<string> | null) => (started ??= after(refs));
  const parser = new ReportParser((refs) => void start(refs).catch(() => {}));
  let pending: Buffer = Buffer.alloc(0);
  let heldFlush = false;
  /** Set on bytes that are not pkt-lines (never from git): from then on everything passes untouched. */
  let raw = false;
  const answer = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (raw) return callback(null, chunk);
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        const packet = nextPacket(pending);
        if (packet === null) break;
        if (heldFlush) out.push(FLUSH);
        heldFlush = false;
        if (packet === 'bad') {
          raw = true;
          parser.give();
          out.push(pending);
          pending = Buffer.alloc(0);
          break;
        }
        const bytes = pending.subarray(0, packet.length);
        pending = pending.subarray(packet.length);
        heldFlush = packet.flush;
        if (!packet.flush) out.push(bytes);
        parser.packet(bytes.subarray(4), packet.flush);
      }
      if (out.length === 0) return callback();
      callback(null, out.length === 1 ? out[0] : Buffer.concat(out));
    },
    flush(callback) {
      start(pending.length === 0 ? parser.updatedRefs() : null).then(
        (lines) => {
          if (heldFlush && parser.sideBand) for (const line of lines) this.push(pktLine(`${String.fromCharCode(BAND_PROGRESS)}${line}\n`));
          callback(null, heldFlush ? Buffer.concat([pending, FLUSH]) : pending);
        },
        (err: unknown) => callback(err as Error),
      );
    },
  });
  stdout.on('error', (err) => answer.destroy(err));
  return stdout.pipe(answer);
}

/** The next whole packet at the start of `buffer`: its length and whether it is a flush; null when incomplete. */
function nextPacket(buffer: Buffer): { length: number; flush: boolean } | null | 'bad' {
  if (buffer.length < 4) return null;
  const hex = buffer.toString('latin1', 0, 4);
  if (!/^[0-9a-f]{4}$/.test(hex)) return 'bad';
  const length = parseInt(hex, 16);
  if (length === 0) return { length: 4, flush: true };
  if (length < 4 || length > MAX_PACKET) return 'bad';
  return buffer.length >= length ? { length, flush: false } : null;
}

/**
 * Reads the report-status out of the answer: on side band 1 when the client asked for a side
 * band (the report's own pkt-lines inside), else as the answer's own pkt-lines.
 */
class ReportParser {
  constructor(private readonly onReport: (refs: ReadonlySet<string>) => void) {}

  /** null until the first packet tells. */
  sideBand: boolean | null = null;
  private inner: Buffer = Buffer.alloc(0);
  private readonly ok = new Set<string>();
  private sawUnpack = false;
  /** The report's own flush was seen: only a whole report names the refs git moved. */
  private complete = false;
  private gaveUp = false;

  packet(payload: Buffer, flush: boolean): void {
    if (this.gaveUp) return;
    if (this.sideBand === null && !flush) this.sideBand = payload[0] === BAND_DATA || payload[0] === BAND_PROGRESS || payload[0] === 3;
    if (!this.sideBand) {
      if (!flush) this.line(payload.toString('utf8'));
      else this.reportEnded();
      return;
    }
    if (flush || payload[0] !== BAND_DATA) return;
    this.inner = Buffer.concat([this.inner, payload.subarray(1)]);
    for (;;) {
      const packet = nextPacket(this.inner);
      if (packet === null) return;
      if (packet === 'bad') return this.give();
      if (!packet.flush) this.line(this.inner.toString('utf8', 4, packet.length));
      else this.reportEnded();
      this.inner = this.inner.subarray(packet.length);
    }
  }

  give(): void {
    this.gaveUp = true;
  }

  private line(text: string): void {
    const line = text.replace(/\n$/, '');
    if (line.startsWith('unpack ')) this.sawUnpack = true;
    else if (line.startsWith('ok ')) this.ok.add(line.slice(3));
  }

  /** The report's own flush: it is complete. */
  private reportEnded(): void {
    if (!this.sawUnpack || this.complete) return;
    this.complete = true;
    this.onReport(this.ok);
  }

  updatedRefs(): ReadonlySet<string> | null {
    return this.complete && !this.gaveUp ? this.ok : null;
  }
}
