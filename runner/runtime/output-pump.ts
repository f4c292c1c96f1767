import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { RuntimeError } from './types.ts';

/**
 * Carries a job's output to RunSpec.onOutput one chunk at a time, awaiting each call: while the
 * consumer is slow, the sink fills to its high-water mark, the source is paused, the pipe (or
 * socket) behind it fills, and finally the job blocks in write(). Memory stays flat however much
 * the job prints.
 */
export class OutputPump {
  readonly sink: Writable;

  constructor(onOutput: (chunk: Buffer) => Promise<void>) {
    this.sink = new Writable({
      highWaterMark: 256 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        onOutput(chunk).then(() => callback(), callback);
      },
    });
  }

  /**
   * Pauses `source` while the sink is full. Needed when something between them writes to the
   * sink and ignores write()'s return value, as dockerode's demuxStream does.
   */
  throttle(source: Readable): void {
    source.on('data', () => {
      if (this.sink.writableNeedDrain) source.pause();
    });
    this.sink.on('drain', () => source.resume());
  }

  /**
   * Resolves once `source` has ended and the consumer has taken every chunk; rejects with a
   * RuntimeError when the consumer threw (the output could not be kept, the run cannot be trusted).
   * The source may be a hijacked socket that closes without 'end': either ends the sink.
   */
  async drained(source: Readable): Promise<void> {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.sink.end();
    };
    source.once('end', end);
    source.once('close', end);
    this.sink.once('error', () => source.destroy());
    try {
      await finished(this.sink);
    } catch (error) {
      throw new RuntimeError(`the job's output could not be delivered: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}
