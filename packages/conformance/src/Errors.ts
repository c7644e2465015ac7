/**
 * The contract command's one failure: it could not run (unreachable server, bad configuration,
 * the given token refused). Exit code 2; checks that ran and failed are results, not errors.
 */
import { Data } from "effect"

export class ContractCannotRun extends Data.TaggedError("ContractCannotRun")<{ readonly message: string }> {}
