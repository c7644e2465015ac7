/**
 * What the user sees once everything listens: where each app is, the secrets a zero-config run
 * generated, and the one command that sends a demo order. On a terminal (pretty logs) it is
 * printed as a block; with JSON logs it is one log entry without any secret (they stay in the
 * launcher's file), so log shippers never receive them.
 */
import { Relay } from "@hlconnect/webhook-relay"
import { Logging, Tracing } from "@hlconnect/service"
import { Console, Effect, Option, Redacted } from "effect"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { GraphqlAddress, ReconcilerAddress, RelayAddress } from "./Addresses.js"
import { DemoSubscriber } from "./DemoSubscriber.js"
import { defaultDataDir, type LauncherSettings } from "./LauncherConfig.js"
import * as LauncherFile from "./LauncherFile.js"
import { Upstream } from "./Upstream.js"

export interface BannerInput {
  readonly settings: LauncherSettings
  readonly file: LauncherFile.LauncherFile
  readonly filePath: string
  /** `sqlite <file>` or `postgresql`. */
  readonly storeDescription: string
  readonly schedule: string
}

/** `npm run demo` from the repository root with the default data directory; the full command otherwise. */
export const demoCommand = (settings: LauncherSettings): string => {
  const atRoot = existsSync(join(process.cwd(), "pnpm-workspace.yaml"))
  if (atRoot && resolve(settings.dataDir) === resolve(defaultDataDir)) return "npm run demo"
  const script = fileURLToPath(new URL("./demo.js", import.meta.url))
  return `DATA_DIR=${JSON.stringify(resolve(settings.dataDir))} node ${JSON.stringify(script)}`
}

export const announce = (input: BannerInput) =>
  Effect.gen(function* () {
    const graphql = yield* GraphqlAddress
    const relay = yield* RelayAddress
    const reconciler = yield* ReconcilerAddress
    const demo = yield* DemoSubscriber
    const upstream = yield* Upstream
    const { settings } = input

    const endpoints: LauncherFile.Endpoints = {
      graphql: `${graphql.url}/graphql`,
      relayIngest: `${relay.url}${Relay.ingestPath}`,
      sandbox: upstream.sandbox
    }
    // The demo command finds the running launcher through this file.
    yield* LauncherFile.write(input.filePath, { ...input.file, endpoints })

    const sandboxUrl = upstream.sandbox ? Option.some(upstream.baseUrl) : Option.none()
    const metrics = [graphql.url, relay.url, reconciler.url, ...Option.toArray(sandboxUrl)].map(
      (url) => `${url}/metrics`
    )
    // The demo buys things: only ever from the sandbox.
    const command = upstream.sandbox ? Option.some(demoCommand(settings)) : Option.none()
    // Read as the runtime read it (the same variables): an invalid value stopped the start already.
    const traces = Tracing.describe(
      yield* Tracing.loadSettings.pipe(
        Effect.orElseSucceed((): Tracing.Settings => ({ _tag: "Off", reason: "no endpoint" }))
      )
    )
    const fields = {
      graphql: endpoints.graphql,
      relayIngest: endpoints.relayIngest,
      relayAdmin: `${relay.url}/admin`,
      hlconnect: upstream.sandbox ? "sandbox" : upstream.baseUrl,
      sandboxDocs: Option.getOrNull(Option.map(sandboxUrl, (url) => `${url}/docs`)),
      demoSubscriber: Option.getOrNull(Option.map(demo, (d) => d.url)),
      reconcileSchedule: input.schedule,
      store: input.storeDescription,
      metrics,
      traces,
      secretsFile: input.filePath,
      demoCommand: Option.getOrNull(command)
    }

    const logging = yield* Logging.loadSettings.pipe(Effect.orElseSucceed(Logging.fallbackSettings))
    if (logging.format === "json") return yield* Effect.logInfo("HL Connect is running", fields)

    const generated = input.file.generated
    const shown = (supplied: boolean, label: string, secret: Redacted.Redacted<string>) =>
      supplied ? [] : [`  ${label.padEnd(24)} ${Redacted.value(secret)}`]
    const secrets = [
      ...shown(settings.supplied.graphqlApiKeys, "GraphQL API key", generated.graphqlApiKey),
      ...shown(settings.supplied.relayWebhookSecrets, "Relay webhook secret", generated.relayWebhookSecret),
      ...shown(settings.supplied.relayAdminToken, "Relay admin token", generated.relayAdminToken),
      ...shown(settings.supplied.relaySecretsKey, "Relay secrets key", generated.relaySecretsKey),
      ...shown(!upstream.sandbox || settings.supplied.sandboxTokens, "Sandbox access token", generated.sandboxToken),
      ...Option.match(demo, { onNone: () => [], onSome: (d) => shown(false, "Demo subscriber secret", d.secret) })
    ]
    const lines = [
      "",
      `HL Connect integration is running — upstream: ${upstream.sandbox ? "the in-process sandbox" : upstream.baseUrl}, store: ${input.storeDescription}`,
      "",
      `  GraphQL + GraphiQL   ${endpoints.graphql}   (header  Authorization: Bearer <GraphQL API key>)`,
      `  Relay (webhooks in)  POST ${endpoints.relayIngest}   (Standard Webhooks)`,
      `  Relay admin          ${fields.relayAdmin}/subscribers   (header  Authorization: Bearer <relay admin token>)`,
      `  Reconciler           on "${input.schedule}", health ${reconciler.url}/health/ready`,
      ...Option.match(sandboxUrl, {
        onNone: () => [],
        onSome: (url) => [`  Sandbox (HL Connect) ${url}   docs ${url}/docs`]
      }),
      ...Option.match(demo, {
        onNone: () => [],
        onSome: (d) => [`  Demo subscriber      ${d.url}   (logs every event it receives)`]
      }),
      `  Metrics              ${metrics.join("  ")}`,
      `  Traces               ${traces}`,
      "",
      ...(secrets.length === 0
        ? []
        : [`Generated for this machine (kept in ${input.filePath}, mode 0600):`, ...secrets, ""]),
      ...Option.match(command, {
        onNone: () => [],
        onSome: (c) => ["Send a signed demo order.paid and watch it go paid → completed:", `  ${c}`, ""]
      })
    ]
    yield* Console.log(lines.join("\n"))
  })
