// `npm run bench`: every benchmark, each against its named peer, measured in this one run.
import {formatStartup, runStartupBenchmark} from './startup.js'
import {runMaskingBenchmark} from './masking.js'
import {formatSandbox, runSandboxBenchmark} from './sandbox.js'
import {formatHook, runHookBenchmark} from './hook.js'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(`bench: Node.js >= 22 is required (this is ${process.version}): run ./scripts/bench instead`)
  process.exit(1)
}
console.log(formatStartup(runStartupBenchmark()))
await runMaskingBenchmark({print: true})
console.log(formatSandbox(runSandboxBenchmark()))
console.log(formatHook(runHookBenchmark()))
