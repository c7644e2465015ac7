import { createRequire } from "node:module"
import { defineConfig } from "vitest/config"

// graphql 16 has no "exports": Node (and so yoga and envelop) loads its CommonJS build, while
// Vite would pick the "module" (ESM) build for our sources. Two copies of graphql refuse each
// other's schemas, so tests resolve it the way Node does.
const graphqlCjs = createRequire(import.meta.url).resolve("graphql")

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlCjs }] },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every file starts its own sandbox, store and server; sharing the module graph between
    // files only saves loading Effect and graphql once per worker instead of once per file.
    isolate: false
  }
})
