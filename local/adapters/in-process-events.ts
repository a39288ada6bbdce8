import type { EventsPort, PlatformEvent } from '../../lambdas/ports/events.js';

export type EventListener = (event: PlatformEvent) => Promise<void> | void;

/** The events port on one machine: an in-process bus. Like an EventBridge rule, a subscription matches source and detail type. */
export class InProcessEvents implements EventsPort {
  private readonly listeners: { source: string; detailType: string; listener: EventListener }[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly onListenerError: (error: unknown, event: PlatformEvent) => void = () => undefined) {}

  subscribe(source: string, detailType: string, listener: EventListener): void {
    this.listeners.push({ source, detailType, listener });
  }

  /** Delivers to every matching listener, asynchronously as EventBridge does; a failing listener is reported, not thrown. */
  async publish(event: PlatformEvent): Promise<void> {
    for (const { source, detailType, listener } of this.listeners) {
      if (source !== event.source || detailType !== event.detailType) continue;
      const delivery = Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) => this.onListenerError(error, event))
        .finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  /** Resolves when every delivery so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
