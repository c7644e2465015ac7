/**
 * Where each app listens, as a service of its own, so the banner can print the real ports
 * (port 0 picks a free one) and nothing is announced before every server is up.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { Context, Effect, Layer } from "effect"

export interface Address {
  /** Base URL reachable from this machine, e.g. `http://127.0.0.1:4000`. */
  readonly url: string
}

export class GraphqlAddress extends Context.Tag("@hlconnect/launcher/GraphqlAddress")<GraphqlAddress, Address>() {}
export class RelayAddress extends Context.Tag("@hlconnect/launcher/RelayAddress")<RelayAddress, Address>() {}
export class ReconcilerAddress extends Context.Tag("@hlconnect/launcher/ReconcilerAddress")<
  ReconcilerAddress,
  Address
>() {}

/** A wildcard bind is reached on loopback; IPv6 hosts need brackets in a URL. */
export const localUrl = (address: HttpServer.Address): string => {
  if (address._tag === "UnixAddress") return `http+unix://${encodeURIComponent(address.path)}`
  const host =
    address.hostname === "0.0.0.0" || address.hostname === ""
      ? "127.0.0.1"
      : address.hostname === "::"
        ? "[::1]"
        : address.hostname.includes(":")
          ? `[${address.hostname}]`
          : address.hostname
  return `http://${host}:${address.port}`
}

/** `tag` filled from the provided server. */
export const fromServer = <I>(tag: Context.Tag<I, Address>): Layer.Layer<I, never, HttpServer.HttpServer> =>
  Layer.effect(
    tag,
    Effect.map(HttpServer.HttpServer, (server) => ({ url: localUrl(server.address) }))
  )
