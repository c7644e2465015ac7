#!/usr/bin/env node
/**
 * The publish step of the release flow (`pnpm release` runs it after build, typecheck, lint and
 * test). Packages go only to the internal registry named by `@hlconnect:registry` in npm's config
 * (an `.npmrc`, or `npm_config_@hlconnect:registry`): with one, `changeset publish` publishes every
 * public workspace package whose version is not there yet; without one — or with the public npm
 * registry named — nothing leaves the machine: each package is packed as `npm publish --dry-run`
 * would, and its tarball's contents are listed. Extra arguments go to `changeset publish`
 * (`--no-git-tag`, `--tag next`).
 */
import { execFile, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const scope = "@hlconnect"
const publicRegistries = ["https://registry.npmjs.org", "https://registry.yarnpkg.com"]

const run = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: "inherit" })
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))
    )
  })

/** The registry configured for the scope, if any. */
const scopeRegistry = async (): Promise<string | undefined> => {
  const { stdout } = await promisify(execFile)("npm", ["config", "get", `${scope}:registry`], { cwd: root })
  const value = stdout.trim()
  return value === "" || value === "undefined" || value === "null" ? undefined : value
}

/** The workspace's publishable packages: `packages/*` not marked private. */
const publicPackages = (): ReadonlyArray<{ readonly name: string; readonly dir: string }> =>
  readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const dir = join(root, "packages", entry.name)
      try {
        const manifest: unknown = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
        if (typeof manifest !== "object" || manifest === null) return []
        const name = "name" in manifest && typeof manifest.name === "string" ? manifest.name : undefined
        const isPrivate = "private" in manifest && manifest.private === true
        return name === undefined || isPrivate ? [] : [{ name, dir }]
      } catch {
        return [] // a folder without a package.json is no package
      }
    })

const main = async () => {
  const registry = await scopeRegistry()
  const isPublic = registry !== undefined && publicRegistries.some((r) => registry.replace(/\/+$/, "") === r)
  if (registry === undefined || isPublic) {
    process.stdout.write(
      registry === undefined
        ? `No ${scope}:registry configured: dry run (npm publish --dry-run), nothing is published.\n`
        : `${scope}:registry names the public registry (${registry}): dry run, internal packages are never published there.\n`
    )
    for (const pkg of publicPackages()) {
      process.stdout.write(`\n== ${pkg.name}\n`)
      await run("pnpm", ["publish", "--dry-run", "--no-git-checks"], { cwd: pkg.dir })
    }
    return
  }
  process.stdout.write(`Publishing to ${registry}\n`)
  await run("pnpm", ["exec", "changeset", "publish", ...process.argv.slice(2)], {
    cwd: root,
    env: { ...process.env, [`npm_config_${scope}:registry`]: registry }
  })
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
