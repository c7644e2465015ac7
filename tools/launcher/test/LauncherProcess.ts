/**
 * The launcher as the end-to-end tests run it: the real command (`node dist/main.js`) as a child
 * process with free ports, its banner and its secrets file decoded (no casts), its output kept for
 * the assertions on logs. One start-up for every test that needs the whole product.
 */
import { Schema } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

/** The launcher's banner line: where everything is. */
export const Running = Schema.parseJson(
  Schema.Struct({
    message: Schema.Tuple(
      Schema.Literal("HL Connect is running"),
      Schema.Struct({
        graphql: Schema.String,
        relayIngest: Schema.String,
        relayAdmin: Schema.String,
        sandboxDocs: Schema.NullOr(Schema.String),
        demoSubscriber: Schema.NullOr(Schema.String),
        metrics: Schema.Array(Schema.String),
        secretsFile: Schema.String,
        demoCommand: Schema.NullOr(Schema.String),
        traces: Schema.String
      })
    )
  })
)
export type Running = (typeof Running.Type)["message"][1]

export const Secret = Schema.Redacted(Schema.String)
export const reveal = (secret: typeof Secret.Type): string => Schema.encodeSync(Secret)(secret)

/** `.data/launcher.json`: the secrets the launcher generated and the endpoints it announced. */
export const LauncherFile = Schema.parseJson(
  Schema.Struct({
    generated: Schema.Struct({
      relayWebhookSecret: Secret,
      relayAdminToken: Secret,
      graphqlApiKey: Secret,
      sandboxToken: Secret,
      demoSubscriberSecret: Secret,
      relaySecretsKey: Secret
    }),
    endpoints: Schema.Struct({ graphql: Schema.String, relayIngest: Schema.String, sandbox: Schema.Boolean })
  })
)
export type LauncherFile = typeof LauncherFile.Type

/** GraphQL's answer to `validatePurchase` when it validated. */
export const ValidateAnswer = Schema.Struct({
  data: Schema.Struct({
    validatePurchase: Schema.Struct({
      __typename: Schema.Literal("ValidationToken"),
      token: Schema.String,
      expiresAt: Schema.String
    })
  })
})

/** One line of a signed `order.paid`, bought at 2.50 with the validation GraphQL gave for it. */
export const paidLine = (
  orderLineId: number,
  assetId: number,
  validation: { readonly token: string; readonly expiresAt: string }
): Record<string, string | number> => ({
  order_line_id: orderLineId,
  asset_id: assetId,
  quantity: 1,
  unit_price: "2.50",
  line_price: "2.50",
  validation_token: validation.token,
  token_expires_at: Math.floor(Date.parse(validation.expiresAt) / 1000)
})

/** The environment minus anything that would change what the launcher runs. */
export const cleanEnv = (): Record<string, string> => {
  const owned =
    /^(DATABASE_URL|DATA_DIR|PORT|HOST|NODE_ENV|SHUTDOWN_GRACE|DEMO_|HLCONNECT_|RELAY_|GRAPHQL|SANDBOX_|RECONCILE|FULFILMENT_|LOG_|OTEL_)/
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !owned.test(key)) env[key] = value
  return env
}

/** Every port free (0), so a test never meets another run's server. */
export const freePorts = {
  GRAPHQL_PORT: "0",
  RELAY_PORT: "0",
  RECONCILER_PORT: "0",
  SANDBOX_PORT: "0",
  DEMO_SUBSCRIBER_PORT: "0"
} as const

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every 250 ms until it answers (generous by default: CI is a busy 2-core machine). */
export const waitFor = async <A>(
  what: string,
  probe: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 90_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = await probe()
    if (found !== undefined) return found
    await sleep(250)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export interface LauncherProcess {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly running: Running
  readonly secrets: LauncherFile
  /** Everything the launcher wrote so far. */
  readonly output: { readonly stdout: string; readonly stderr: string }
  /** SIGKILL unless it has already ended. */
  readonly kill: () => Promise<void>
}

/** Starts the launcher with `env` (over `cleanEnv()`) and waits for its banner. */
export const startLauncher = async (env: Record<string, string>): Promise<LauncherProcess> => {
  const child = spawn(process.execPath, [join(packageDir, "dist/main.js")], {
    cwd: packageDir,
    env: { ...cleanEnv(), ...env }
  })
  const output = { stdout: "", stderr: "" }
  child.stdout?.on("data", (chunk: Buffer) => {
    output.stdout += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output.stderr += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL")
      await exited
    }
  }
  try {
    const running = await waitFor(
      "the launcher's banner",
      () => {
        if (child.exitCode !== null)
          throw new Error(
            `the launcher exited with ${child.exitCode}:\n${output.stdout.slice(-4000)}\n${output.stderr.slice(-4000)}`
          )
        for (const line of output.stdout.split("\n")) {
          const decoded = Schema.decodeUnknownOption(Running)(line)
          if (decoded._tag === "Some") return decoded.value.message[1]
        }
        return undefined
      },
      120_000
    )
    const secrets = Schema.decodeUnknownSync(LauncherFile)(readFileSync(running.secretsFile, "utf8"))
    return { child, exited, running, secrets, output, kill }
  } catch (error) {
    await kill()
    throw error
  }
}
