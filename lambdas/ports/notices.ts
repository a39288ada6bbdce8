/**
 * Push notices to tenant runtimes on the tenant's own cache channel (Redis PUBLISH locally;
 * the cell's cache in the cloud). Best effort by design: the runtime polls anyway, so a lost
 * notice only means the next poll finds the change.
 */
export interface NoticesPort {
  /** Publishes `message` on `channel`; resolves with how many subscribers got it. */
  notify(channel: string, message: string): Promise<number>;
}
