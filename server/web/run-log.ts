import type { RunLogStore } from '../domain/ports.ts';
import { AnsiRenderer } from './ansi.ts';
import type { Html } from './html.ts';

/** How much of a log a page shows (the tail; earlier parts are pages of their own): a 100 MB log never ships whole. */
export const LOG_WINDOW_BYTES = 256 * 1024;
const NEWLINE = 0x0a;

export interface LogLine {
  /** Byte offset of the line's first byte in the log. */
  readonly offset: number;
  readonly html: Html;
}

export interface LogWindow {
  /** Bytes [start, end) of the log are shown, cut to whole lines. */
  readonly start: number;
  readonly end: number;
  readonly size: number;
  readonly lines: readonly LogLine[];
}

/** Reads bytes [start, end) of a run's log (fewer when the log is shorter). */
export async function readLogRange(logs: RunLogStore, runId: number, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const stream = await logs.read(runId, start);
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let have = 0;
  const want = end - start;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= want) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, want);
}

/** Splits bytes into lines on "\n" (bytes, so a multi-byte character is never cut), rendering ANSI colours. */
export function renderLines(bytes: Buffer, base: number, renderer = new AnsiRenderer()): LogLine[] {
  const lines: LogLine[] = [];
  let from = 0;
  while (from < bytes.length) {
    const nl = bytes.indexOf(NEWLINE, from);
    const to = nl < 0 ? bytes.length : nl;
    lines.push({ offset: base + from, html: renderer.line(bytes.subarray(from, to).toString('utf8')) });
    from = to + 1;
  }
  return lines;
}

/**
 * The part of the log a page shows: the window that ends at `end` (default: the end of the log),
 * at most LOG_WINDOW_BYTES, starting after a newline so no line is shown cut (and, with
 * `wholeLines`, ending after one).
 */
export async function logWindow(logs: RunLogStore, runId: number, endAt: number | null, wholeLines: boolean): Promise<LogWindow> {
  const size = await logs.size(runId);
  const end = endAt === null ? size : Math.min(Math.max(0, endAt), size);
  let start = Math.max(0, end - LOG_WINDOW_BYTES);
  let bytes = await readLogRange(logs, runId, start, end);
  if (start > 0) {
    const nl = bytes.indexOf(NEWLINE);
    const skip = nl < 0 ? bytes.length : nl + 1;
    bytes = bytes.subarray(skip);
    start += skip;
  }
  // A live log's last line may still be growing: it is left to the live stream, which starts where this ends.
  if (wholeLines && bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE) bytes = bytes.subarray(0, bytes.lastIndexOf(NEWLINE) + 1);
  return { start, end: start + bytes.length, size, lines: renderLines(bytes, start) };
}

/** Rendered windows kept (each at most LOG_WINDOW_BYTES of log, ~0.7 MB of HTML). */
const FINISHED_WINDOWS_KEPT = 48;

/**
 * Rendered log windows of finished runs: their logs never change again, so a window (run, end)
 * renders once; the least recently used go first. Running runs' windows are never kept (their
 * logs still grow).
 */
export class FinishedLogWindows {
  private readonly windows = new Map<string, LogWindow>();

  async window(logs: RunLogStore, runId: number, endAt: number | null): Promise<LogWindow> {
    const key = `${runId}:${endAt ?? 'end'}`;
    const hit = this.windows.get(key);
    if (hit) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.windows.delete(key);
      this.windows.set(key, hit);
      return hit;
    }
    const window = await logWindow(logs, runId, endAt, false);
    this.windows.set(key, window);
    for (const oldest of this.windows.keys()) {
      if (this.windows.size <= FINISHED_WINDOWS_KEPT) break;
      this.windows.delete(oldest);
    }
    return window;
  }
}
