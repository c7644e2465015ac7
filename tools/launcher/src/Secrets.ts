/**
 * The apps read their secrets from their own variables; for a zero-config run the launcher's
 * generated ones stand in for whichever of them the environment leaves unset (and, with the
 * sandbox, the relay may deliver to loopback subscribers unless told otherwise).
 */
import { ConfigProvider, Redacted } from "effect"
import type { GeneratedSecrets } from "./LauncherFile.js"

/** The variables a generated secret stands in for. */
export const fallbacks = (generated: GeneratedSecrets, options: { readonly sandbox: boolean }): Map<string, string> => {
  const entries: Array<[string, string]> = [
    ["RELAY_WEBHOOK_SECRETS", Redacted.value(generated.relayWebhookSecret)],
    ["RELAY_ADMIN_TOKEN", Redacted.value(generated.relayAdminToken)],
    ["RELAY_SECRETS_KEY", Redacted.value(generated.relaySecretsKey)],
    ["GRAPHQL_API_KEYS", Redacted.value(generated.graphqlApiKey)],
    ["SANDBOX_TOKENS", Redacted.value(generated.sandboxToken)]
  ]
  if (options.sandbox) {
    // Against the sandbox the client uses the sandbox's token; against HL Connect it must be given.
    entries.push(["HLCONNECT_TOKEN", Redacted.value(generated.sandboxToken)])
    // A development setup: the demo subscriber (and a developer's own) listen on loopback.
    entries.push(["RELAY_ALLOW_PRIVATE_SUBSCRIBERS", "true"])
  }
  return new Map(entries)
}

/** The environment first, then the generated secrets: a variable that is set always wins. */
export const provider = (
  generated: GeneratedSecrets,
  options: { readonly sandbox: boolean }
): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromEnv().pipe(ConfigProvider.orElse(() => ConfigProvider.fromMap(fallbacks(generated, options))))
