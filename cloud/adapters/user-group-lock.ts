/**
 * Serializing changes to one ElastiCache user group.
 *
 * A user group accepts a change (ModifyUserGroup) only while it is `active`; during the minutes the
 * change takes it is `modifying`, and a second change is refused with InvalidUserGroupStateFault.
 * Many provision and deprovision Lambdas run at once, in different processes, so no lock held in
 * memory can keep them apart. Instead every change follows one optimistic protocol
 * (ElastiCacheCacheUsers does this):
 *
 *   read the group → if the wanted membership is already there, stop → if the group is not
 *   `active`, back off and read again → else send the change as a delta (add X / remove X) →
 *   InvalidUserGroupStateFault means "someone else got there first": back off and read again →
 *   once accepted, wait until the group is `active` with the wanted membership.
 *
 * Why this is safe without a shared lock:
 * - The service is the arbiter: a change it refuses did nothing, so a refusal is only a reason to
 *   wait, never a half-done state.
 * - Changes are deltas, never whole member lists, so two accepted changes cannot overwrite each
 *   other: adding A and adding B commute, and each is idempotent.
 * - Every attempt decides from a fresh read, so a change another caller already made (or that an
 *   earlier attempt of this step made before a timeout) is seen and not repeated.
 * - Waiting is bounded by a deadline: a caller that runs out of time throws `Hostplane.Transient`
 *   and the state machine's Retry runs the whole idempotent step again later.
 * - Backoff has jitter, so callers refused together do not all come back together.
 *
 * The lock below only keeps one process's own callers from refusing each other (useful when one
 * adapter serves several concurrent calls, as in the local stack or a test); it is an optimisation,
 * not what makes the protocol correct. A shared lock (a database advisory lock, say) can be passed
 * in its place through the same interface.
 */

/** Runs changes to a user group one at a time, as far as this lock can see. */
export interface UserGroupLock {
  /** Runs `change` once no earlier change to `userGroupId` taken through this lock is still running. */
  withGroup<T>(userGroupId: string, change: () => Promise<T>): Promise<T>;
}

/** A {@link UserGroupLock} within one process: a promise chain per user group. A failed change does not block the next. */
export class InProcessUserGroupLock implements UserGroupLock {
  private readonly tails = new Map<string, Promise<void>>();

  withGroup<T>(userGroupId: string, change: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(userGroupId) ?? Promise.resolve();
    const result = previous.then(change);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(userGroupId, tail);
    void tail.then(() => {
      if (this.tails.get(userGroupId) === tail) this.tails.delete(userGroupId);
    });
    return result;
  }
}
