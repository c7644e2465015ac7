/**
 * The campaign's failures, as tagged errors. A scenario that fails with one of them becomes a
 * FAIL row naming it; nothing is swallowed.
 */
import { Data } from "effect"

/** A child process did not start, did not become ready, or died. */
export class ProcessFailed extends Data.TaggedError("ProcessFailed")<{
  readonly name: string
  readonly message: string
}> {}

/** No HTTP answer: connection refused or reset, timeout. */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{
  readonly method: string
  readonly url: string
  readonly message: string
}> {}

/** An HTTP answer we did not expect (status), with the start of its body. */
export class UnexpectedResponse extends Data.TaggedError("UnexpectedResponse")<{
  readonly url: string
  readonly status: number
  readonly body: string
}> {}

/** An answer or file that does not have the shape we decode it with. */
export class DecodeFailure extends Data.TaggedError("DecodeFailure")<{
  readonly what: string
  readonly message: string
}> {}

/** A wait that did not end in time. */
export class TimedOut extends Data.TaggedError("TimedOut")<{
  readonly what: string
  readonly after: string
}> {}

/** A file or directory operation failed. */
export class FileFailure extends Data.TaggedError("FileFailure")<{
  readonly path: string
  readonly message: string
}> {}

/** The store (read to check final states) failed. */
export class StoreFailure extends Data.TaggedError("StoreFailure")<{
  readonly message: string
}> {}

/** A scenario's precondition does not hold (e.g. PostgreSQL unreachable, an invalid option). */
export class SetupFailed extends Data.TaggedError("SetupFailed")<{
  readonly message: string
}> {}

export type CampaignError =
  | ProcessFailed
  | HttpFailure
  | UnexpectedResponse
  | DecodeFailure
  | TimedOut
  | FileFailure
  | StoreFailure
  | SetupFailed

/** One line for a FAIL row. */
export const describeError = (error: CampaignError): string => {
  switch (error._tag) {
    case "ProcessFailed":
      return `${error.name}: ${error.message}`
    case "HttpFailure":
      return `${error.method} ${error.url}: ${error.message}`
    case "UnexpectedResponse":
      return `${error.url} answered ${error.status}: ${error.body.slice(0, 200)}`
    case "DecodeFailure":
      return `${error.what}: ${error.message}`
    case "TimedOut":
      return `${error.what} (after ${error.after})`
    case "FileFailure":
      return `${error.path}: ${error.message}`
    case "StoreFailure":
    case "SetupFailed":
      return error.message
  }
}

export const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
