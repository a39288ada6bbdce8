/**
 * Polls `current` (EFS is NFS: file events do not cross clients) and reports every reading, noting
 * whether it changed. `wake()` polls at once: a push notice (the tenant's cache channel
 * `t:<tenant>:deploy`) can call it so a new release is seen sooner than the next poll.
 */
import { readCurrentPointer, readingKey, type PointerReading } from './release-pointer.js';

export interface ReleaseWatcherOptions {
  readonly appDir: string;
  readonly intervalMs: number;
  /** Called after every successful poll. */
  readonly onReading: (reading: PointerReading, changed: boolean) => void;
  readonly onError: (error: unknown) => void;
  /** Replaces the file-system read (tests). */
  readonly read?: (appDir: string) => Promise<PointerReading>;
}

export class ReleaseWatcher {
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private pollAgain = false;
  private stopped = true;
  private lastKey: string | undefined;
  private lastPollAtMs: number | undefined;
  private lastErrorText: string | undefined;
  private readonly read: (appDir: string) => Promise<PointerReading>;

  constructor(private readonly options: ReleaseWatcherOptions) {
    this.read = options.read ?? readCurrentPointer;
  }

  /** Starts polling; resolves after the first poll. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.poll();
  }

  /** Polls now instead of at the next interval. */
  wake(): void {
    if (this.stopped) return;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** When the last poll (successful or not) finished, in ms since the epoch. */
  get lastPollAt(): number | undefined {
    return this.lastPollAtMs;
  }

  /** The error of the last poll, if it failed. */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    clearTimeout(this.timer);
    try {
      do {
        this.pollAgain = false;
        await this.pollOnce();
      } while (this.pollAgain && !this.stopped);
    } finally {
      this.polling = false;
      if (!this.stopped) this.timer = setTimeout(() => void this.poll(), this.options.intervalMs);
    }
  }

  private async pollOnce(): Promise<void> {
    let reading: PointerReading;
    try {
      reading = await this.read(this.options.appDir);
    } catch (error) {
      this.lastPollAtMs = Date.now();
      this.lastErrorText = error instanceof Error ? error.message : String(error);
      this.options.onError(error);
      return;
    }
    this.lastPollAtMs = Date.now();
    this.lastErrorText = undefined;
    if (this.stopped) return;
    const key = readingKey(reading);
    const changed = key !== this.lastKey;
    this.lastKey = key;
    this.options.onReading(reading, changed);
  }
}
