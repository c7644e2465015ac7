/** Bench helpers, exported as `@hlconnect/conformance/bench` (see ServerProcess.ts). */
export * from "./ServerProcess.js"
export * from "./OtlpSink.js"
export * from "./Statistics.js"
