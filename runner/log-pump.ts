import type { RunnerApi } from './api-client.ts';
import { RUNNER_MAX_LOG_CHUNK_BYTES } from '../schema/runner-protocol.ts';

const FLUSH_BYTES = 256 * 1024;
const FLUSH_INTERVAL_MS = 250;

/**
 * Ships a job's output to the server in batches (a few per second, at most 1 MiB each). `write`
 * waits while a full batch is in flight, so a job printing faster than the server stores applies
 * backpressure to the container's stream instead of growing the runner's memory. A batch the
 * server cannot take (database outage) is retried, holding back the next ones in order.
 */
export class LogPump {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  /** Numbers the batches of this attempt, so a batch the server stored but could not acknowledge is not stored twice. */
  private seq = 0;

  constructor(
    private readonly api: RunnerApi,
    private readonly runId: number,
    private readonly attempt: number,
    private readonly onCancel: () => void,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes >= FLUSH_BYTES) await this.flush();
    else this.timer ??= setTimeout(() => void this.flush().catch(() => {}), FLUSH_INTERVAL_MS);
  }

  line(text: string): Promise<void> {
    return this.write(Buffer.from(`[mlgit-runner] ${text}\n`));
  }

  /** Sends what is buffered (after the batch in flight); rejects if the server refused the attempt. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const data = Buffer.concat(this.buffered);
    this.buffered = [];
    this.bufferedBytes = 0;
    const previous = this.inFlight;
    this.inFlight = previous.then(async () => {
      for (let i = 0; i < data.length; i += RUNNER_MAX_LOG_CHUNK_BYTES) {
        const signal = await this.api.log(this.runId, this.attempt, this.seq++, data.subarray(i, i + RUNNER_MAX_LOG_CHUNK_BYTES));
        if (signal.cancel) this.onCancel();
      }
    });
    this.inFlight = this.inFlight.catch((err) => {
      this.failure ??= err;
    });
    await this.inFlight;
    if (this.failure) throw this.failure;
  }
}
