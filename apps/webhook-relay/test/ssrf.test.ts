/**
 * HTTPS-only / SSRF guard for subscriber URLs: at registration (admin API, RELAY_SUBSCRIBERS)
 * and again before every delivery, after DNS resolution (DNS rebinding), connecting to the
 * checked address.
 */
import { SecretBox, Subscribers } from "@hlconnect/store"
import { Effect, Either, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SubscriberUrl from "../src/SubscriberUrl.js"
import {
  admin,
  appendOutbound,
  asRecord,
  eventually,
  fakeDns,
  getDelivery,
  getSubscriber,
  newSecret,
  type RunningRelay,
  startReceiver,
  startRelay
} from "./support.js"

describe("address classification", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.10", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.10.20", "link-local"],
    ["169.254.169.254", "metadata"],
    ["100.100.100.200", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fd12:3456::1", "unique-local"],
    ["fc00::1", "unique-local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["192.0.2.1", "documentation"],
    ["2001:db8::1", "documentation"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["64:ff9b::a00:1", "private"],
    ["2002:c0a8:0101::1", "private"],
    // IPv6 forms that embed an IPv4 address: refused for what the IPv4 address is.
    ["64:ff9b::7f00:1", "loopback address (embedded in 64:ff9b::7f00:1)"],
    ["64:ff9b::127.0.0.1", "loopback"],
    ["64:ff9b:1::7f00:1", "loopback address (embedded in 64:ff9b:1::7f00:1)"],
    ["64:ff9b:1::a9fe:a9fe", "metadata"],
    ["64:ff9b:1:ab:cd::808:808", "local-use NAT64"],
    ["64:ff9b:1:7f00:0:100:808:808", "local-use NAT64"],
    ["::ffff:0:7f00:1", "loopback address (embedded in ::ffff:0:7f00:1)"],
    ["::ffff:0:10.1.2.3", "private"],
    ["::ffff:0:169.254.169.254", "metadata"],
    ["::127.0.0.1", "loopback"],
    ["::7f00:1", "loopback"],
    ["::ffff:192.168.1.1", "private"],
    ["2002:7f00:1::1", "loopback"],
    ["2002:a9fe:a9fe::1", "metadata"],
    ["2002:6440::1", "carrier-grade NAT"],
    // Teredo: refused whatever it carries.
    ["2001::1", "Teredo"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"],
    ["2001:0:808:808::f7f7:f7f7", "Teredo"]
  ])("%s is refused (%s)", (address, label) => {
    const reason = SubscriberUrl.blockedReason(address)
    expect(Option.getOrElse(reason, () => "allowed")).toContain(label)
  })

  it.each([
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "::ffff:0:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:4860:4860::8888"
  ])("%s is public", (address) => {
    expect(Option.isNone(SubscriberUrl.blockedReason(address))).toBe(true)
  })
})

describe("the guard", () => {
  const dns = new Map([
    ["public.example.test", "93.184.216.34"],
    ["internal.example.test", "10.0.0.5"],
    ["v6.example.test", "fd00::5"]
  ])
  const guard = SubscriberUrl.make({ allowPrivate: false, resolver: fakeDns(dns) })
  const check = (url: string) => Effect.runPromise(Effect.either(guard.check(url)))
  const code = async (url: string) => {
    const r = await check(url)
    return Either.isLeft(r) ? `${r.left.code}: ${r.left.message}` : "allowed"
  }

  it("requires https, a resolvable host and public addresses, naming the problem", async () => {
    expect(await code("http://public.example.test/hook")).toMatch(
      /^https_required: url must use https:\/\/ .*RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true/
    )
    expect(await code("ftp://public.example.test/")).toMatch(/^invalid_url/)
    expect(await code("not a url")).toMatch(/^invalid_url/)
    expect(await code("https://127.0.0.1/hook")).toBe(
      "private_address: url host 127.0.0.1, a loopback address; subscribers must be public (set RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true for development)"
    )
    expect(await code("https://[::1]:8443/hook")).toMatch(/^private_address: url host ::1, a loopback address/)
    expect(await code("https://2130706433/")).toMatch(/^private_address: url host 127\.0\.0\.1/)
    expect(await code("https://internal.example.test/hook")).toMatch(
      /^private_address: url host internal\.example\.test resolves to 10\.0\.0\.5, a private address/
    )
    expect(await code("https://v6.example.test/hook")).toMatch(/unique-local/)
    // The forms an attacker's test got through: NAT64 local use, SIIT, Teredo.
    expect(await code("https://[64:ff9b:1::7f00:1]/hook")).toBe(
      "private_address: url host 64:ff9b:1::7f00:1, a loopback address (embedded in 64:ff9b:1::7f00:1); subscribers must be public (set RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true for development)"
    )
    expect(await code("https://[::ffff:0:7f00:1]/hook")).toMatch(
      /^private_address: url host ::ffff:0:7f00:1, a loopback address \(embedded/
    )
    expect(await code("https://[2001::808:808]/hook")).toMatch(
      /^private_address: url host 2001::808:808, a Teredo address/
    )
    expect(await code("https://nowhere.example.test/hook")).toMatch(
      /^unresolvable_host: url host nowhere\.example\.test does not resolve/
    )
    const ok = await check("https://public.example.test:8443/hook?x=1")
    expect(Either.isRight(ok) && [ok.right.addresses, ok.right.url.host]).toEqual([
      [{ address: "93.184.216.34", family: 4 }],
      "public.example.test:8443"
    ])
  })

  it("one private address among public ones is enough to refuse", async () => {
    const mixed = SubscriberUrl.make({
      allowPrivate: false,
      resolver: SubscriberUrl.HostResolver.make({
        lookup: () =>
          Effect.succeed([
            { address: "93.184.216.34", family: 4 },
            { address: "fe80::1", family: 6 }
          ])
      })
    })
    const r = await Effect.runPromise(Effect.either(mixed.check("https://mixed.example.test/")))
    expect(Either.isLeft(r) && r.left.message).toMatch(/resolves to fe80::1, a link-local address/)
  })

  it("RELAY_ALLOW_PRIVATE_SUBSCRIBERS lets http and private addresses through, still pinned to the resolved address", async () => {
    const open = SubscriberUrl.make({ allowPrivate: true, resolver: fakeDns(dns) })
    const r = await Effect.runPromise(Effect.either(open.check("http://internal.example.test:9/x")))
    expect(Either.isRight(r) && r.right.addresses).toEqual([{ address: "10.0.0.5", family: 4 }])
    const literal = await Effect.runPromise(Effect.either(open.check("http://127.0.0.1:9/x")))
    expect(Either.isRight(literal)).toBe(true)
  })
})

describe("relay with the guard on (the default)", () => {
  let relay: RunningRelay
  const dns = new Map<string, string>()
  beforeAll(async () => {
    relay = await startRelay({ allowPrivateSubscribers: false }, { resolver: fakeDns(dns) })
  })
  afterAll(async () => {
    await relay?.close()
  })

  it("the admin API refuses http, private and unresolvable subscribers with a 4xx naming the problem", async () => {
    dns.set("internal.example.test", "192.168.1.20")
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      ["http://hooks.example.test/in", "https_required", /must use https:\/\//],
      ["https://127.0.0.1:8443/in", "private_address", /loopback/],
      ["https://[::ffff:169.254.169.254]/latest", "private_address", /metadata/],
      ["https://[64:ff9b:1::7f00:1]/in", "private_address", /loopback address \(embedded in 64:ff9b:1::7f00:1\)/],
      ["https://[::ffff:0:7f00:1]/in", "private_address", /loopback address \(embedded in ::ffff:0:7f00:1\)/],
      ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/in", "private_address", /Teredo/],
      ["https://internal.example.test/in", "private_address", /resolves to 192\.168\.1\.20, a private address/],
      ["https://nowhere.example.test/in", "unresolvable_host", /does not resolve/]
    ]
    for (const [url, error, message] of cases) {
      const r = await admin(relay, "POST", "/admin/subscribers", { url, events: ["*"], secret: newSecret() })
      expect(r.status, url).toBe(422)
      expect(r.json.error, url).toBe(error)
      expect(String(r.json.message), url).toMatch(message)
    }
    const listed = await admin(relay, "GET", "/admin/subscribers")
    expect(listed.json.items).toEqual([])
  })

  it("a subscriber URL is taken exactly as it will be contacted: no credentials, no control characters or whitespace, stored normalised", async () => {
    dns.set("exact.example.test", "93.184.216.34")
    const refused: ReadonlyArray<readonly [string, string, RegExp]> = [
      [
        "https://user:hunter2@exact.example.test/in",
        "credentials_in_url",
        /credentials in URLs are not accepted.*signing secret/
      ],
      ["https://user@exact.example.test/in", "credentials_in_url", /credentials in URLs are not accepted/],
      [
        "https://exact.example.test/in\r\nX-Injected: 1",
        "invalid_url",
        /whitespace or control characters \(U\+000D at position 30\)/
      ],
      ["https://exact.example.test/in\n", "invalid_url", /U\+000A/],
      ["https://exa\tct.example.test/in", "invalid_url", /U\+0009/],
      ["https://exact.example.test/in\u0000", "invalid_url", /U\+0000/],
      [" https://exact.example.test/in", "invalid_url", /U\+0020 at position 1/],
      ["https://exact.example.test/a b", "invalid_url", /U\+0020/],
      ["https://exact.example.test/in\u00a0", "invalid_url", /U\+00A0/],
      ["https://exact\u200b.example.test/in", "invalid_url", /U\+200B/]
    ]
    for (const [url, error, message] of refused) {
      const r = await admin(relay, "POST", "/admin/subscribers", { url, events: ["test.exact"], secret: newSecret() })
      expect(r.status, JSON.stringify(url)).toBe(422)
      expect(r.json.error, JSON.stringify(url)).toBe(error)
      expect(String(r.json.message), JSON.stringify(url)).toMatch(message)
      expect(JSON.stringify(r.json)).not.toContain("hunter2")
    }
    const listed = await admin(relay, "GET", "/admin/subscribers")
    expect(JSON.stringify(listed.json)).not.toContain("exact.example.test")
    // What is stored (and shown, and contacted) is the parsed URL, normalised.
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: "HTTPS://Exact.Example.TEST:443/a/./b/../hook?x=1",
      events: ["test.exact"],
      secret: newSecret()
    })
    expect(created.status).toBe(201)
    expect(created.json.url).toBe("https://exact.example.test/a/hook?x=1")
    expect((await getSubscriber(relay, String(created.json.id))).url).toBe("https://exact.example.test/a/hook?x=1")
    await admin(relay, "POST", `/admin/subscribers/${String(created.json.id)}/disable`, { reason: "test done" })
  })

  it("a subscriber stored with credentials before they were refused is listed with its password masked", async () => {
    const legacy = await relay.run(
      Effect.flatMap(Subscribers.Subscribers, (s) =>
        s.create({
          url: "https://ops:s3cret-pass@legacy.example.test/hook",
          signingSecret: Redacted.make(newSecret()),
          eventFilter: ["test.legacy"]
        })
      ).pipe(Effect.provide(SecretBox.layer(relay.config.secretKeys)))
    )
    const listed = await admin(relay, "GET", "/admin/subscribers")
    expect(JSON.stringify(listed.json)).not.toContain("s3cret-pass")
    const one = await admin(relay, "GET", `/admin/subscribers/${legacy.subscriberId}`)
    expect(one.json.url).toBe("https://ops:redacted@legacy.example.test/hook")
    await admin(relay, "POST", `/admin/subscribers/${legacy.subscriberId}/disable`, { reason: "test done" })
  })

  it("DNS rebinding: a host that resolved publicly at registration and privately at delivery is not contacted", async () => {
    const receiver = await startReceiver()
    const port = new URL(receiver.url).port
    dns.set("rebind.example.test", "93.184.216.34")
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: `https://rebind.example.test:${port}/hook`,
      events: ["test.rebind"],
      secret: newSecret()
    })
    expect(created.status).toBe(201)
    // Now the name points inside (at the local receiver's address).
    dns.set("rebind.example.test", "127.0.0.1")
    const { deliveries } = await appendOutbound(relay, "8200", "test.rebind", {})
    const id = deliveries[0]?.deliveryId ?? ""
    const dead = await eventually(
      async () => {
        const d = await getDelivery(relay, id)
        return d.state === "dead" ? d : undefined
      },
      10_000,
      "dead letter"
    )
    expect(Option.getOrElse(dead.lastError, () => "")).toContain("resolves to 127.0.0.1, a loopback address")
    expect(receiver.received).toHaveLength(0)
    // It counts as a failed attempt: the failing streak has begun.
    expect(Option.isSome((await getSubscriber(relay, String(created.json.id))).failingSince)).toBe(true)
    await receiver.close()
  })

  it("enabling a subscriber checks its URL again: one whose name now points inside stays disabled, with the reason", async () => {
    dns.set("moved.example.test", "93.184.216.34")
    // Its own event type only: nothing else in this file is sent to it.
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: "https://moved.example.test/hook",
      events: ["test.moved"],
      secret: newSecret()
    })
    expect(created.status).toBe(201)
    const id = String(created.json.id)
    expect((await admin(relay, "POST", `/admin/subscribers/${id}/disable`, { reason: "maintenance" })).status).toBe(200)
    dns.set("moved.example.test", "10.0.0.7")
    const refused = await admin(relay, "POST", `/admin/subscribers/${id}/enable`)
    expect(refused.status).toBe(422)
    expect(refused.json.error).toBe("private_address")
    expect(String(refused.json.message)).toMatch(/resolves to 10\.0\.0\.7, a private address/)
    expect((await admin(relay, "GET", `/admin/subscribers/${id}`)).json.enabled).toBe(false)
    // Pointing outside again, it can be enabled.
    dns.set("moved.example.test", "93.184.216.34")
    const enabled = await admin(relay, "POST", `/admin/subscribers/${id}/enable`)
    expect(enabled.status).toBe(200)
    expect(enabled.json.enabled).toBe(true)
  })

  it("RELAY_SUBSCRIBERS are checked too: a relay seeded with a private URL does not start", async () => {
    await expect(
      startRelay({
        allowPrivateSubscribers: false,
        seedSubscribers: [{ url: "http://127.0.0.1:1/x", secret: Redacted.make(newSecret()), events: ["*"] }]
      })
    ).rejects.toThrow(/RELAY_SUBSCRIBERS #1: url must use https:\/\//)
  })

  it("RELAY_SUBSCRIBERS: credentials are refused whatever the setting; a URL is stored as contacted", async () => {
    await expect(
      startRelay({
        seedSubscribers: [{ url: "http://ops:pw@127.0.0.1:1/x", secret: Redacted.make(newSecret()), events: ["*"] }]
      })
    ).rejects.toThrow(/RELAY_SUBSCRIBERS #1: url must not carry credentials/)
    const seeded = await startRelay({
      seedSubscribers: [
        { url: "HTTP://127.0.0.1:1/x/../hook", secret: Redacted.make(newSecret()), events: ["test.seed"] }
      ]
    })
    try {
      const listed = await admin(seeded, "GET", "/admin/subscribers")
      const urls = Array.isArray(listed.json.items) ? listed.json.items.map((item) => asRecord(item).url) : []
      expect(urls).toEqual(["http://127.0.0.1:1/hook"])
    } finally {
      await seeded.close()
    }
  })
})

describe("relay delivering to the checked address", () => {
  it("connects to the address the guard resolved (the system resolver does not know the name), Host header intact", async () => {
    const receiver = await startReceiver()
    const port = new URL(receiver.url).port
    const relay = await startRelay({}, { resolver: fakeDns(new Map([["receiver.example.test", "127.0.0.1"]])) })
    try {
      const created = await admin(relay, "POST", "/admin/subscribers", {
        url: `http://receiver.example.test:${port}/hook`,
        events: ["test.pinned"],
        secret: newSecret()
      })
      expect(created.status).toBe(201)
      const { deliveries } = await appendOutbound(relay, "8300", "test.pinned", {})
      const id = deliveries[0]?.deliveryId ?? ""
      await eventually(
        async () => ((await getDelivery(relay, id)).state === "delivered" ? true : undefined),
        10_000,
        "delivery"
      )
      expect(receiver.received[0]?.headers.host).toBe(`receiver.example.test:${port}`)
    } finally {
      await relay.close()
      await receiver.close()
    }
  })
})
