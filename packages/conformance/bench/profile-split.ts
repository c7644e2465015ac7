/**
 * Reads a `.cpuprofile` (from `profile-core.ts`) and prints where the CPU went: self time by
 * package, the top functions by self time, and the time under chosen frames (inclusive: a sample
 * counts for the innermost listed frame on its stack), each as µs per call when `CALLS` is given.
 *
 *   pnpm tsx bench/profile-split.ts /tmp/traced.cpuprofile [CALLS] [TOP]
 */
import { readFileSync } from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, callsArg, topArg] = process.argv.slice(2)
if (file === undefined) throw new Error("usage: profile-split.ts <file.cpuprofile> [calls] [top]")
const profile: Profile = JSON.parse(readFileSync(file, "utf8"))
const calls = callsArg === undefined ? undefined : Number(callsArg)
const top = Number(topArg ?? 40)

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parentOf = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

const packageOf = (url: string): string => {
  if (url === "") return "(native/vm)"
  const nm = url.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/")
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url)
  }
  if (url.startsWith("node:")) return "node:*"
  const pkg = url.match(/\/packages\/([^/]+)\//)
  if (pkg !== null) return `@hlconnect/${pkg[1]}`
  return url
}

/** Frames whose subtree is one component, innermost match wins. */
const components: ReadonlyArray<readonly [string, (frame: CallFrame) => boolean]> = [
  ["otlp serialise (transformer/protobuf)", (f) => f.url.includes("otlp-transformer") || f.url.includes("protobufjs")],
  ["otlp http export", (f) => f.url.includes("otlp-exporter-base")],
  [
    "otel span start (sdk)",
    (f) => f.url.includes("sdk-trace-base") && /startSpan|SpanImpl|_sampler|generate|shouldSample/.test(f.functionName)
  ],
  [
    "otel span end / processor",
    (f) =>
      f.url.includes("sdk-trace-base") &&
      /^(end|onEnd|_addToBuffer|_maybeStartTimer|_exportOneBatch|_flushOneBatch)$/.test(f.functionName)
  ],
  [
    "otel span attributes (sdk)",
    (f) => f.url.includes("sdk-trace-base") && /setAttribute|setStatus|_truncate/.test(f.functionName)
  ],
  // Effect's run loop calls the tracer's `context(execution)` around every op: what the op itself
  // does is the op's, not the hook's.
  [
    "other",
    (f) =>
      f.url.includes("/effect/") && f.url.endsWith("fiberRuntime.js") && f.functionName === "" && f.lineNumber === 1141
  ],
  [
    "effect-otel tracer.context hook",
    (f) =>
      f.url.includes("@effect/opentelemetry") && (f.functionName === "context" || f.functionName === "populateContext")
  ],
  ["effect-otel OtelSpan new", (f) => f.url.includes("@effect/opentelemetry") && f.functionName === "OtelSpan"],
  ["effect-otel OtelSpan.end", (f) => f.url.includes("@effect/opentelemetry") && f.functionName === "end"],
  ["effect-otel OtelSpan.attribute", (f) => f.url.includes("@effect/opentelemetry") && f.functionName === "attribute"],
  ["effect unsafeMakeSpan", (f) => f.url.includes("/effect/") && f.functionName === "unsafeMakeSpan"],
  ["effect endSpan", (f) => f.url.includes("/effect/") && f.functionName === "endSpan"],
  ["(garbage collector)", (f) => f.functionName === "(garbage collector)"],
  ["(idle)", (f) => f.functionName === "(idle)" || f.functionName === "(program)"]
]

const self = new Map<number, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] ?? 0
  const delta = profile.timeDeltas[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + delta)
  total += delta
}

const selfByPackage = new Map<string, number>()
const selfByFunction = new Map<string, number>()
const byComponent = new Map<string, number>()
for (const [id, time] of self) {
  const node = byId.get(id)
  if (node === undefined) continue
  const frame = node.callFrame
  const pkg = packageOf(frame.url)
  selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + time)
  const fn = `${frame.functionName || "(anonymous)"} ${pkg}:${frame.lineNumber + 1}`
  selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + time)
  let component = "other"
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const f = byId.get(at)?.callFrame
    const match = f === undefined ? undefined : components.find(([, test]) => test(f))
    if (match !== undefined) {
      component = match[0]
      break
    }
  }
  byComponent.set(component, (byComponent.get(component) ?? 0) + time)
}

const idle = self.get(profile.nodes.find((n) => n.callFrame.functionName === "(idle)")?.id ?? -1) ?? 0
const busy = total - idle
const show = (title: string, entries: Map<string, number>, limit: number) => {
  console.log(`\n${title}`)
  for (const [name, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const perCall = calls === undefined ? "" : `${(time / calls).toFixed(1).padStart(7)} µs/call`
    console.log(`${((time / busy) * 100).toFixed(1).padStart(5)}%  ${perCall}  ${name}`)
  }
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled`)
show("components (innermost listed frame on the stack)", byComponent, 30)
show("self time by package", selfByPackage, 20)
show("self time by function", selfByFunction, top)
