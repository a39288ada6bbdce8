/** A platform event, shaped as EventBridge carries it. */
export interface PlatformEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Events (EventBridge in the cloud; an in-process bus locally). */
export interface EventsPort {
  publish(event: PlatformEvent): Promise<void>;
}
