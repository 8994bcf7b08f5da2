// Benchmark: `secure exec -- true` with locally resolved references against `node -e 0`, measured
// in the same run, alternating, median of many runs. Goal (issue 2): <= 3x.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs `command` and returns its wall time in milliseconds; a failure aborts the benchmark. */
function timeRun(node, args, options) {
  const started = process.hrtime.bigint()
  const result = spawnSync(node, args, {...options, stdio: ['ignore', 'ignore', 'pipe']})
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed (${result.status}): ${result.stderr}`)
  return elapsed
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Measures both commands `runs` times each, interleaved so machine noise hits both alike. */
export function runStartupBenchmark({node = process.execPath, runs = 30} = {}) {
  const workspace = mkdtempSync(join(tmpdir(), 'secure-bench-'))
  try {
    const home = join(workspace, 'home')
    const repository = join(home, 'project')
    mkdirSync(join(home, '.config', 'secure'), {recursive: true})
    mkdirSync(repository, {recursive: true})
    writeFileSync(join(home, '.config', 'secure', 'config.toml'), `[onepassword]\nprovider = "op"\nop_path = "${join(root, 'bench', 'bin', 'op')}"\n`)
    writeFileSync(join(repository, '.secure.toml'), '[secrets]\nNPM_TOKEN = "op://Private/npm/token"\nGH_TOKEN = "op://Private/GitHub/token"\n')
    const environment = {PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share'), XDG_STATE_HOME: join(home, '.local/state')}
    const options = {cwd: repository, env: environment}
    const secure = [join(root, 'bin', 'run.js'), 'exec', '--quiet', '--', 'true']
    execFileSync(node, [join(root, 'bin', 'run.js'), 'allow'], {...options, stdio: 'ignore'})
    // Warm-up: fills the page cache and Node's compile cache, as a user's second run would find them.
    for (let index = 0; index < 3; index++) timeRun(node, secure, options)
    const plain = []
    const secured = []
    for (let index = 0; index < runs; index++) {
      plain.push(timeRun(node, ['-e', '0'], options))
      secured.push(timeRun(node, secure, options))
    }
    return {runs, nodeMilliseconds: median(plain), secureMilliseconds: median(secured), ratio: median(secured) / median(plain)}
  } finally {
    rmSync(workspace, {recursive: true, force: true})
  }
}

export function formatStartup(result) {
  return `startup: secure exec -- true (2 references, resolved locally) ${result.secureMilliseconds.toFixed(0)} ms vs node -e 0 ${result.nodeMilliseconds.toFixed(0)} ms, median of ${result.runs}: ratio ${result.ratio.toFixed(2)}x (goal <= 3x)`
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(formatStartup(runStartupBenchmark()))
