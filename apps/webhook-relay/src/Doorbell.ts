/**
 * Wakes an idle worker when local work appears (a committed event, a new outbox row), so
 * polling is only the fallback for work written by other processes and for due retries.
 */
import { type Duration, Effect, Queue } from "effect"

export interface Doorbell {
  readonly ring: Effect.Effect<void>
  /** `ring` from outside any fiber (a callback). */
  readonly ringNow: () => void
  /** Waits for a ring or `timeout`, whichever comes first. */
  readonly wait: (timeout: Duration.DurationInput) => Effect.Effect<void>
}

export const make: Effect.Effect<Doorbell> = Effect.map(Queue.sliding<void>(1), (queue) => {
  // A full queue (capacity 1) means the bell is already ringing: nothing to add.
  const ringNow = () => {
    Queue.unsafeOffer(queue, undefined)
  }
  return {
    ring: Effect.sync(ringNow),
    ringNow,
    wait: (timeout) => Queue.take(queue).pipe(Effect.timeoutOption(timeout), Effect.asVoid)
  }
})
