/**
 * Which subscriber URLs the relay will POST to (SSRF guard). By default a subscriber must be
 * `https://` and every address its host resolves to must be public: not loopback, private,
 * carrier-grade NAT, link-local, unique-local, multicast, reserved, documentation or a cloud
 * metadata address, nor an IPv6 address carrying such an IPv4 one (mapped, SIIT, compatible,
 * NAT64, 6to4), nor Teredo or local-use NAT64 at all. The check runs when a subscriber is registered and again before every
 * delivery, after resolving the host, and the delivery connects to the address that was
 * checked: a DNS answer that changes in between (DNS rebinding) cannot redirect it inside.
 * `RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true` turns the address and scheme rules off (development, tests).
 *
 * Whatever the setting, a URL is taken exactly as it will be contacted: one with whitespace or
 * control characters (which the URL parser would silently drop or trim) or with credentials
 * (`user:pass@`, shown in every listing) is refused, and what is stored is the parsed `URL.href`.
 */
import { Effect, Option, Schema } from "effect"
import { lookup } from "node:dns/promises"
import { BlockList, isIP } from "node:net"

/** Why a subscriber URL is refused; `code` is stable (the admin API returns it), `message` names the problem. */
export class SubscriberUrlRejected extends Schema.TaggedError<SubscriberUrlRejected>()("SubscriberUrlRejected", {
  code: Schema.Literal("invalid_url", "credentials_in_url", "https_required", "private_address", "unresolvable_host"),
  message: Schema.String
}) {}

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** The host could not be resolved (NXDOMAIN, no network, timeout). */
export class HostUnresolvable extends Schema.TaggedError<HostUnresolvable>()("HostUnresolvable", {
  hostname: Schema.String,
  message: Schema.String
}) {}

/** Name resolution for subscriber hosts; tests provide their own to play DNS tricks. */
export class HostResolver extends Effect.Service<HostResolver>()("@hlconnect/webhook-relay/HostResolver", {
  succeed: {
    lookup: (hostname: string): Effect.Effect<ReadonlyArray<ResolvedAddress>, HostUnresolvable> =>
      Effect.tryPromise({
        try: () => lookup(hostname, { all: true, verbatim: true }),
        catch: (error) =>
          new HostUnresolvable({ hostname, message: error instanceof Error ? error.message : "lookup failed" })
      }).pipe(
        Effect.map((addresses) =>
          addresses.flatMap(
            (a): ReadonlyArray<ResolvedAddress> =>
              a.family === 4 || a.family === 6 ? [{ address: a.address, family: a.family }] : []
          )
        )
      )
  }
}) {}

/** A checked delivery target: the URL and the addresses to connect to (all checked; never resolved again). */
export interface Target {
  readonly url: URL
  readonly addresses: readonly [ResolvedAddress, ...Array<ResolvedAddress>]
}

// ---------------------------------------------------------------------------
// Address classification
// ---------------------------------------------------------------------------

const ranges: ReadonlyArray<readonly [label: string, family: "ipv4" | "ipv6", network: string, prefix: number]> = [
  // Metadata first: it is link-local (v4) / unique-local (v6) too, but the specific name is clearer.
  ["a cloud metadata address", "ipv4", "169.254.169.254", 32],
  ["a cloud metadata address", "ipv4", "100.100.100.200", 32],
  ["a cloud metadata address", "ipv6", "fd00:ec2::254", 128],
  ["an unspecified ('this network') address", "ipv4", "0.0.0.0", 8],
  ["a private address", "ipv4", "10.0.0.0", 8],
  ["a carrier-grade NAT (shared) address", "ipv4", "100.64.0.0", 10],
  ["a loopback address", "ipv4", "127.0.0.0", 8],
  ["a link-local address", "ipv4", "169.254.0.0", 16],
  ["a private address", "ipv4", "172.16.0.0", 12],
  ["an IETF protocol assignment address", "ipv4", "192.0.0.0", 24],
  ["a documentation address", "ipv4", "192.0.2.0", 24],
  ["a 6to4 relay anycast address", "ipv4", "192.88.99.0", 24],
  ["a private address", "ipv4", "192.168.0.0", 16],
  ["a benchmarking address", "ipv4", "198.18.0.0", 15],
  ["a documentation address", "ipv4", "198.51.100.0", 24],
  ["a documentation address", "ipv4", "203.0.113.0", 24],
  ["a multicast address", "ipv4", "224.0.0.0", 4],
  ["a reserved address", "ipv4", "240.0.0.0", 4],
  ["an unspecified address", "ipv6", "::", 128],
  ["a loopback address", "ipv6", "::1", 128],
  ["a discard-only address", "ipv6", "100::", 64],
  ["a documentation address", "ipv6", "2001:db8::", 32],
  // Refused whatever they carry: Teredo tunnels to arbitrary IPv4 (server and obfuscated client
  // address inside); where a local-use NAT64 prefix (RFC 8215) puts its IPv4 depends on the
  // operator's prefix length (RFC 6052), so the embedded address cannot be told reliably.
  ["a Teredo address (tunnels to any IPv4 address)", "ipv6", "2001::", 32],
  ["a local-use NAT64 address (RFC 8215)", "ipv6", "64:ff9b:1::", 48],
  ["a unique-local address", "ipv6", "fc00::", 7],
  ["a link-local address", "ipv6", "fe80::", 10],
  ["a site-local address", "ipv6", "fec0::", 10],
  ["a multicast address", "ipv6", "ff00::", 8]
]

const lists = ranges.map(([label, family, network, prefix]): readonly [string, BlockList] => {
  const list = new BlockList()
  list.addSubnet(network, prefix, family)
  return [label, list]
})

/** The eight 16-bit groups of an IPv6 address (zone id dropped, embedded dotted quad allowed). */
const ipv6Groups = (address: string): ReadonlyArray<number> | undefined => {
  const bare = address.split("%")[0] ?? ""
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(bare)
  let text = bare
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number)
    if (a === undefined || b === undefined || c === undefined || d === undefined) return undefined
    text = `${bare.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail, ...rest] = text.split("::")
  if (rest.length > 0 || head === undefined) return undefined
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const fill = tail === undefined ? 0 : 8 - left.length - right.length
  const groups = [...left, ...Array.from({ length: fill }, () => 0), ...right]
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined
}

const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`

/**
 * The IPv4 address an IPv6 one carries, if any: IPv4-mapped `::ffff:0:0/96`, SIIT
 * `::ffff:0:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` and the /96 layout of the
 * local-use `64:ff9b:1::/48` (RFC 8215), 6to4 `2002::/16`.
 */
const embeddedIPv4 = (address: string): string | undefined => {
  const g = ipv6Groups(address)
  if (g === undefined) return undefined
  const [g0, g1, g2, _g3, g4, g5, g6, g7] = g
  if (g0 === undefined || g1 === undefined || g2 === undefined || g6 === undefined || g7 === undefined) return undefined
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (zeroUpTo(5) && g5 === 0xffff) return v4(g6, g7) // ::ffff:a.b.c.d (mapped)
  if (zeroUpTo(4) && g4 === 0xffff && g5 === 0) return v4(g6, g7) // ::ffff:0:a.b.c.d (SIIT, RFC 6145)
  if (zeroUpTo(6) && (g6 !== 0 || g7 > 1)) return v4(g6, g7) // ::a.b.c.d (compatible, deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g6, g7) // 64:ff9b::/96
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return v4(g6, g7) // 64:ff9b:1:…::/96 (local use)
  if (g0 === 0x2002) return v4(g1, g2) // 6to4
  return undefined
}

/**
 * Why `address` must not be a subscriber's, or `None` when it is a public address. An IPv6
 * address carrying an IPv4 one is refused for whatever would refuse that IPv4 address.
 */
export const blockedReason = (address: string): Option.Option<string> => {
  const family = isIP(address.split("%")[0] ?? "")
  if (family === 0) return Option.some("not an IP address")
  if (family === 6) {
    const inner = embeddedIPv4(address)
    const innerReason = inner === undefined ? Option.none() : blockedReason(inner)
    if (Option.isSome(innerReason)) return Option.some(`${innerReason.value} (embedded in ${address})`)
  }
  const type = family === 4 ? "ipv4" : "ipv6"
  const bare = address.split("%")[0] ?? ""
  for (const [label, list] of lists) if (list.check(bare, type)) return Option.some(label)
  return Option.none()
}

// ---------------------------------------------------------------------------
// The guard
// ---------------------------------------------------------------------------

export interface Guard {
  /** The URL as it will be stored and contacted (`URL.href`), if its form is acceptable; no name resolution. */
  readonly parse: (url: string) => Effect.Effect<URL, SubscriberUrlRejected>
  /** Parses and checks `url` and resolves its host; every address must be allowed, and is one to connect to. */
  readonly check: (url: string) => Effect.Effect<Target, SubscriberUrlRejected>
}

const hint = "set RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true for development"

// Control characters (C0, DEL, C1), invisible format characters and any whitespace: the URL parser
// would drop or trim them, so the URL contacted would not be the one submitted.
const unsafeCharacter = /[\p{Cc}\p{Cf}\p{Z}\s]/u

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`

/** The form of a subscriber URL: characters, syntax, scheme, no credentials. */
const parseUrl = (raw: string): Effect.Effect<URL, SubscriberUrlRejected> =>
  Effect.gen(function* () {
    const unsafe = unsafeCharacter.exec(raw)
    if (unsafe !== null) {
      return yield* new SubscriberUrlRejected({
        code: "invalid_url",
        message: `url must not contain whitespace or control characters (${codePoint(unsafe[0])} at position ${unsafe.index + 1}); percent-encode them`
      })
    }
    const url = yield* Effect.try({
      try: () => new URL(raw),
      catch: () => new SubscriberUrlRejected({ code: "invalid_url", message: "url must be an absolute http(s) URL" })
    })
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return yield* new SubscriberUrlRejected({
        code: "invalid_url",
        message: `url must be https:// (got ${url.protocol}//)`
      })
    }
    if (url.username !== "" || url.password !== "") {
      return yield* new SubscriberUrlRejected({
        code: "credentials_in_url",
        message:
          "url must not carry credentials (user:password@): credentials in URLs are not accepted; deliveries are authenticated by the signing secret"
      })
    }
    return url
  })

export const make = (options: { readonly allowPrivate: boolean; readonly resolver: HostResolver }): Guard => ({
  parse: parseUrl,
  check: (raw) =>
    Effect.gen(function* () {
      const url = yield* parseUrl(raw)
      if (url.protocol !== "https:" && !options.allowPrivate) {
        return yield* new SubscriberUrlRejected({ code: "https_required", message: `url must use https:// (${hint})` })
      }
      // IPv6 literals come bracketed in URL.hostname.
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1")
      const literal = isIP(host)
      const addresses: ReadonlyArray<ResolvedAddress> =
        literal === 4 || literal === 6
          ? [{ address: host, family: literal }]
          : yield* options.resolver.lookup(host).pipe(
              Effect.mapError(
                (e) =>
                  new SubscriberUrlRejected({
                    code: "unresolvable_host",
                    message: `url host ${host} does not resolve: ${e.message}`
                  })
              )
            )
      const [first, ...rest] = addresses
      if (first === undefined) {
        return yield* new SubscriberUrlRejected({
          code: "unresolvable_host",
          message: `url host ${host} resolves to no address`
        })
      }
      if (!options.allowPrivate) {
        for (const a of addresses) {
          const reason = blockedReason(a.address)
          if (Option.isSome(reason)) {
            const via = a.address === host ? `url host ${host}` : `url host ${host} resolves to ${a.address}`
            return yield* new SubscriberUrlRejected({
              code: "private_address",
              message: `${via}, ${reason.value}; subscribers must be public (${hint})`
            })
          }
        }
      }
      return { url, addresses: [first, ...rest] }
    })
})
