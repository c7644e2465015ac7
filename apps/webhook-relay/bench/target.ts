/** A server under test in the ingest bench: where it listens, and how to stop it. */
import type { Server } from "node:http"

export interface Target {
  readonly port: number
  readonly close: () => Promise<void>
}

/** `server` listening on a free loopback port; closing drops its connections. */
export const listening = async (server: Server): Promise<Target> => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const address = server.address()
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    }
  }
}
