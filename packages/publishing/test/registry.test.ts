/**
 * The release flow against a real npm registry: Verdaccio (storage in a temp dir, a free loopback
 * port) receives `@hlconnect/*` from the release's publish step (`changeset publish`); each
 * published tarball is checked (every file a consumer needs is in it, no workspace protocol or
 * private package in its manifest, publint and attw clean) and its size printed; then three
 * consumer projects outside the workspace install with plain npm — `@hlconnect/*` from Verdaccio
 * through a scoped line in their `.npmrc`, everything else from the usual registry — and run:
 * an Effect service (its own effect patch, tsc --strict, NodeNext, one copy of effect), a plain
 * TypeScript service (Promise facade only), and a CommonJS service (`require`) against the
 * sandbox run as `npx hlconnect-sandbox`.
 */
import { freePort } from "@hlconnect/sandbox"
import { type ChildProcess, spawn } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { createRequire } from "node:module"
import { homedir, tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "../../..")
const published = ["@hlconnect/core", "@hlconnect/service", "@hlconnect/sandbox"] as const
const consumersDir = join(here, "consumers")

interface Output {
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion (never blocking the event loop); rejects with its output on failure. */
const exec = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<Output>((done, fail) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", fail)
    child.on("exit", (code) =>
      code === 0
        ? done({ stdout, stderr })
        : fail(new Error(`${command} ${args.join(" ")} (in ${options.cwd}) exited with ${code}\n${stdout}\n${stderr}`))
    )
  })

/**
 * The environment of a project outside the workspace: without the `npm_*` variables that the
 * workspace's own `pnpm run` / `npm run` set for its scripts.
 */
const outsideEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^npm_(config|package|lifecycle|execpath|node_execpath|command)/.test(key)
    )
  ),
  ...extra
})

const lastJsonLine = (stdout: string): unknown => JSON.parse(stdout.trim().split("\n").at(-1) ?? "null")

let work: string
let registry: string
let verdaccio: ChildProcess | undefined
let publishEnv: NodeJS.ProcessEnv
const versions = new Map<string, string>()
const tarballs = new Map<string, string>()

const startVerdaccio = async () => {
  const port = await freePort()
  const configPath = join(work, "verdaccio.yaml")
  // JSON is YAML. No uplinks: @hlconnect/* exists here only, nothing is proxied.
  const config = {
    storage: join(work, "storage"),
    // bcrypt's fewest rounds: the throw-away user's password is checked on every request.
    auth: { htpasswd: { file: join(work, "htpasswd"), max_users: 10, algorithm: "bcrypt", rounds: 4 } },
    uplinks: {},
    packages: { "**": { access: "$all", publish: "$authenticated", unpublish: "$authenticated" } },
    web: { enable: false },
    log: { type: "stdout", format: "pretty", level: "warn" }
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const bin = join(dirname(createRequire(import.meta.url).resolve("verdaccio/package.json")), "bin", "verdaccio")
  verdaccio = spawn(process.execPath, [bin, "--config", configPath, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "inherit", "inherit"]
  })
  registry = `http://127.0.0.1:${port}/`
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await fetch(`${registry}-/ping`)).ok) return
    } catch (error) {
      if (attempt > 150) throw error
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A user on the registry, and an npm user config that names the registry for the scope with its token. */
const configurePublishing = async () => {
  const response = await fetch(`${registry}-/user/org.couchdb.user:release`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "release", password: "release-password-1", type: "user", roles: [] })
  })
  expect(response.status).toBe(201)
  const { token } = (await response.json()) as { token: string }
  const userConfig = process.env.NPM_CONFIG_USERCONFIG ?? join(homedir(), ".npmrc")
  const own = existsSync(userConfig) ? readFileSync(userConfig, "utf8") : ""
  const npmrc = join(work, "publish.npmrc")
  const host = registry.replace(/^http:/, "")
  writeFileSync(npmrc, `${own}\n@hlconnect:registry=${registry}\n${host}:_authToken=${token}\n`)
  publishEnv = { ...process.env, NPM_CONFIG_USERCONFIG: npmrc }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "hlconnect-publishing-"))
  await startVerdaccio()
  await configurePublishing()
})

afterAll(() => {
  verdaccio?.kill()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

/** Every file of a directory, relative to it. */
const consumers = ["effect-service", "promise-service", "commonjs-service"] as const
/** The consumers' `npm install`s, started as soon as the packages are published. */
let installing: Promise<Array<readonly [string, string]>> | undefined

/** Copies a consumer project out of the workspace and installs it with plain npm. */
const installConsumer = async (consumer: string): Promise<readonly [string, string]> => {
  const dir = join(work, "consumers", consumer)
  cpSync(join(consumersDir, consumer), dir, { recursive: true })
  // As a company's services do: @hlconnect/* from the internal registry, the rest as usual.
  writeFileSync(join(dir, ".npmrc"), `@hlconnect:registry=${registry}\n`)
  const manifestPath = join(dir, "package.json")
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, Record<string, string>>
  for (const field of ["dependencies", "devDependencies"]) {
    const deps = manifest[field] ?? {}
    for (const dep of Object.keys(deps)) {
      const version = versions.get(dep)
      if (version !== undefined) deps[dep] = version
    }
  }
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2))
  const started = Date.now()
  await exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir, env: outsideEnv() })
  console.log(`${consumer}: npm install took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return [consumer, dir]
}

const filesOf = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => statSync(join(dir, f)).isFile())

const stringsIn = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : typeof value === "object" && value !== null
      ? Object.values(value).flatMap(stringsIn)
      : []

/** What a consumer needs of a package that is not in its tarball (empty when nothing is missing). */
const missingFiles = (packageDir: string): Array<string> => {
  const files = new Set(filesOf(packageDir))
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as Record<string, unknown>
  const missing: Array<string> = []
  const need = (file: string, why: string) => {
    if (!files.has(file)) missing.push(`${file} (${why})`)
  }
  need("README.md", "documentation")
  need("LICENSE", "licence")
  for (const target of stringsIn(manifest.exports)) need(relative(".", target), "exports")
  for (const target of stringsIn(manifest.bin)) need(relative(".", target), "bin")
  const importPattern = /(?:from\s+|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g
  for (const file of files) {
    const path = join(packageDir, file)
    if (file.endsWith(".js") || file.endsWith(".d.ts")) {
      for (const match of readFileSync(path, "utf8").matchAll(importPattern)) {
        const specifier = match[1] ?? ""
        const target = relative(packageDir, resolve(dirname(path), specifier))
        const candidates = file.endsWith(".d.ts") ? [target, target.replace(/\.js$/, ".d.ts")] : [target]
        if (!candidates.some((c) => files.has(c))) missing.push(`${target} (imported by ${file})`)
      }
    }
    if (file.endsWith(".map")) {
      const map = JSON.parse(readFileSync(path, "utf8")) as { sources?: Array<string> }
      for (const source of map.sources ?? [])
        need(relative(packageDir, resolve(dirname(path), source)), `source of ${file}`)
    }
  }
  return missing
}

describe('the root README\'s "Using the client from another service"', () => {
  it("shows each consumer's files as they are", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const blocks = [...readme.matchAll(/<!-- consumer: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)]
    expect(blocks.map((b) => b[1])).toEqual(expect.arrayContaining(consumers.map((c) => `${c}/package.json`)))
    for (const [, path = "", shown] of blocks) {
      expect(shown, `README block for ${path}`).toBe(readFileSync(join(consumersDir, path), "utf8").replace(/\n$/, ""))
    }
  })
})

describe("publishing @hlconnect/* to a real registry", () => {
  it("the release's publish step publishes every public package to the registry named for the scope", async () => {
    const { stdout } = await exec(
      process.execPath,
      [join(root, "packages/publishing/dist/release.js"), "--no-git-tag"],
      {
        cwd: root,
        env: publishEnv
      }
    )
    expect(stdout).toContain(`Publishing to ${registry}`)
    for (const name of published) {
      const manifest = JSON.parse(
        readFileSync(join(root, "packages", name.split("/")[1] ?? "", "package.json"), "utf8")
      ) as {
        version: string
      }
      const packument = (await (await fetch(`${registry}${name.replace("/", "%2f")}`)).json()) as {
        versions: Record<string, { dist: { tarball: string } }>
      }
      const entry = packument.versions[manifest.version]
      expect(entry, `${name}@${manifest.version} on the registry`).toBeDefined()
      const tarball = await fetch(entry?.dist.tarball ?? "")
      const file = join(work, `${name.replace("@", "").replace("/", "-")}-${manifest.version}.tgz`)
      writeFileSync(file, Buffer.from(await tarball.arrayBuffer()))
      versions.set(name, manifest.version)
      tarballs.set(name, file)
    }
    installing = Promise.all(consumers.map(installConsumer))
    installing.catch(() => {}) // awaited (and reported) by the consumers' beforeAll
  })

  it("each tarball holds what a consumer needs, with a clean manifest, and passes publint and attw", async () => {
    expect(tarballs.size).toBe(published.length)
    const sizes = await Promise.all(
      [...tarballs].map(async ([name, file]) => {
        const dir = join(work, "unpacked", name)
        mkdirSync(dir, { recursive: true })
        await exec("tar", ["-xzf", file, "-C", dir, "--strip-components=1"], { cwd: work })
        const files = filesOf(dir)
        const unpacked = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0)
        expect(missingFiles(dir), `${name}: files a consumer needs`).toEqual([])

        const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>
        expect(manifest.private, `${name} is not private`).toBeUndefined()
        for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
          for (const [dep, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
            expect(range, `${name} ${field} ${dep}`).not.toMatch(/^(workspace|link|file):/)
            if (dep.startsWith("@hlconnect/"))
              expect(published, `${name} depends on the unpublished ${dep}`).toContain(dep)
          }
        }
        const bin = (tool: string) => join(here, "..", "node_modules", ".bin", tool)
        await exec(bin("publint"), ["run", file, "--strict"], { cwd: work })
        await exec(bin("attw"), [file, "--profile", "esm-only", "--no-emoji", "--no-color"], { cwd: work })
        return `${name}@${versions.get(name)}: tarball ${(statSync(file).size / 1024).toFixed(1)} kB, unpacked ${(unpacked / 1024).toFixed(1)} kB, ${files.length} files`
      })
    )
    // The check itself bites: the same package missing its licence and a module it imports fails it.
    const broken = join(work, "broken-core")
    cpSync(join(work, "unpacked", "@hlconnect/core"), broken, { recursive: true })
    rmSync(join(broken, "LICENSE"))
    rmSync(join(broken, "dist", "Errors.js"))
    expect(missingFiles(broken)).toEqual(
      expect.arrayContaining([
        "LICENSE (licence)",
        expect.stringMatching(/^dist\/Errors\.js \(imported by dist\/\S+\.js\)$/)
      ])
    )
    console.log(`published tarballs:\n  ${sizes.join("\n  ")}`)
  })

  describe("consumers outside the workspace, installing with plain npm", () => {
    const dirs = new Map<string, string>()

    beforeAll(async () => {
      expect(installing, "the packages were published").toBeDefined()
      for (const [consumer, dir] of await (installing ?? Promise.resolve([]))) dirs.set(consumer, dir)
    })

    it("an Effect service: tsc --strict (NodeNext), validate → register → poll → download URL against the in-process sandbox, one copy of effect", async () => {
      const dir = dirs.get("effect-service") ?? ""
      await exec("npm", ["run", "build"], { cwd: dir, env: outsideEnv() })
      const { stdout } = await exec("npm", ["start", "--silent"], { cwd: dir, env: outsideEnv() })
      expect(lastJsonLine(stdout)).toEqual({ consumer: "effect-service", status: "COMPLETED", download: 200 })
      const ls = await exec("npm", ["ls", "effect", "--all"], { cwd: dir, env: outsideEnv() })
      console.log(`effect-service: npm ls effect\n${ls.stdout}`)
      const copies = new Set(
        (await exec("npm", ["ls", "effect", "--all", "--parseable"], { cwd: dir, env: outsideEnv() })).stdout
          .trim()
          .split("\n")
      )
      expect([...copies].map((p) => relative(dir, p))).toEqual(["node_modules/effect"])
      const effect = JSON.parse(readFileSync(join(dir, "node_modules/effect/package.json"), "utf8")) as {
        version: string
      }
      expect(effect.version).toBe("3.22.2") // the service's own patch, not the workspace's 3.22.4
    })

    it("a plain TypeScript service: the Promise facade with a string token, no effect import", async () => {
      const dir = dirs.get("promise-service") ?? ""
      expect(readFileSync(join(dir, "src/main.ts"), "utf8")).not.toMatch(/from\s+["']effect/)
      await exec("npm", ["run", "build"], { cwd: dir, env: outsideEnv() })
      const { stdout } = await exec("npm", ["start", "--silent"], { cwd: dir, env: outsideEnv() })
      expect(lastJsonLine(stdout)).toEqual({
        consumer: "promise-service",
        registered: "Registered",
        status: "COMPLETED",
        download: 200,
        notFound: true
      })
    })

    it("a CommonJS service: require('@hlconnect/core') on Node ≥ 20.19, against `npx hlconnect-sandbox`", async () => {
      const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
      expect(major > 20 || (major === 20 && minor >= 19), `Node ${process.versions.node} ≥ 20.19`).toBe(true)
      const dir = dirs.get("commonjs-service") ?? ""
      const token = "commonjs-consumer-token"
      const sandbox = spawn("npx", ["--no", "hlconnect-sandbox"], {
        cwd: dir,
        detached: true, // its own process group: npx's child is stopped with it
        env: outsideEnv({ PORT: "0", SANDBOX_TOKENS: token, SANDBOX_FULFILMENT_POLLS: "1" })
      })
      try {
        const url = await new Promise<string>((done, fail) => {
          let seen = ""
          const look = (chunk: Buffer) => {
            seen += chunk.toString()
            const match = /ready at (http:\/\/[0-9.:[\]]+)/.exec(seen)
            if (match?.[1] !== undefined) done(match[1])
          }
          sandbox.stdout?.on("data", look)
          sandbox.stderr?.on("data", look)
          sandbox.on("exit", (code) => fail(new Error(`hlconnect-sandbox exited with ${code}:\n${seen}`)))
        })
        const { stdout } = await exec("npm", ["start", "--silent"], {
          cwd: dir,
          env: outsideEnv({ HLCONNECT_BASE_URL: url, HLCONNECT_TOKEN: token })
        })
        expect(lastJsonLine(stdout)).toEqual({ consumer: "commonjs-service", status: "COMPLETED", download: 200 })
      } finally {
        stopProcessGroup(sandbox.pid)
      }
    })
  })
})

/** Stops a detached child's process group; one already gone (it exited early, and that failure is the one reported) has nothing to stop. */
function stopProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, "SIGTERM")
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ESRCH")) throw error
  }
}
