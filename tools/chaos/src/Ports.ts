/** A free TCP port on 127.0.0.1 (the OS picks it; the child binds it right after). */
import { Effect } from "effect"
import { createServer } from "node:net"
import { SetupFailed } from "./Errors.js"

export const free: Effect.Effect<number, SetupFailed> = Effect.async<number, SetupFailed>((resume) => {
  const server = createServer()
  server.once("error", (error) => resume(Effect.fail(new SetupFailed({ message: `no free port: ${error.message}` }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() =>
      resume(port === 0 ? Effect.fail(new SetupFailed({ message: "no free port" })) : Effect.succeed(port))
    )
  })
})
