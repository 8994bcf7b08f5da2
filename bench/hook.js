// Benchmarks of issue 5, the shell hook, against direnv (Debian's) in the same run, both in bash:
// - a prompt where nothing changed (goal: no process, <= 0.1 ms), outside and inside a profile;
// - a directory change into a directory with no profile (goal: cheaper than direnv's export);
// - entering a directory with a profile (goal: <= 40 ms): seen before (served from the activation
//   cache, no Node), and the first time or after a change (the entry point, without oclif).
// Skipped, and says so, when bash or direnv is missing. `node bench/hook.js` runs this part alone.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0

/**
 * Runs `setup` in a bash, then `times` times `before` (untimed) and `measured` (timed with bash's
 * own clock, $EPOCHREALTIME, so neither the shell's start nor `before` counts), and returns the mean
 * milliseconds of one `measured`.
 */
function timeInBash(setup, {before = ':', measured, times}, environment) {
  const script = `${setup}
total=0
for ((i = 0; i < ${times}; i++)); do
  ${before}
  start=$EPOCHREALTIME; ${measured}; end=$EPOCHREALTIME
  total=$((total + \${end/./} - \${start/./}))
done 2>/dev/null
echo "$total" >&3`
  const result = spawnSync('bash', ['--norc', '-c', `exec 3>&1; ${script}`], {env: environment, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
  return Number(result.stdout.trim().split('\n').at(-1)) / times / 1000
}

export function runHookBenchmark({node = process.execPath} = {}) {
  if (!has('bash') || !has('direnv')) return undefined
  const workspace = mkdtempSync(join(tmpdir(), 'secure-bench-hook-'))
  try {
    const home = join(workspace, 'home')
    const [plainA, plainB, project, cloned, envrcProject] = ['src/a', 'src/b', 'src/project', 'src/cloned', 'src/envrc'].map((path) => join(home, path))
    for (const directory of [plainA, plainB, project, cloned, envrcProject]) mkdirSync(directory, {recursive: true})
    writeFileSync(join(project, '.secure.toml'), '[hook]\nexec = ["twine", "npm publish"]\nrun = ["npm test"]\n')
    writeFileSync(join(cloned, '.secure.toml'), '[hook]\nexec = ["twine"]\n')
    writeFileSync(join(envrcProject, '.envrc'), 'export APP_ENV=dev\n')
    const environment = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local/share'),
      XDG_STATE_HOME: join(home, '.local/state'),
      XDG_CACHE_HOME: join(home, '.cache'),
      NPM_TOKEN: 'npm_benchmarkAmbientToken',
    }
    execFileSync(node, [join(root, 'bin', 'run.js'), 'allow'], {cwd: project, env: environment, stdio: 'ignore'})
    execFileSync('direnv', ['allow'], {cwd: envrcProject, env: environment, stdio: 'ignore'})
    const hook = execFileSync(node, [join(root, 'bin', 'run.js'), 'hook', 'bash'], {env: environment, encoding: 'utf8'})
    const hookFile = join(workspace, 'hook.bash')
    writeFileSync(hookFile, hook)
    const cacheRoot = /^__secure_cache='(.*)'$/m.exec(hook)?.[1] ?? ''
    // Each profile entered once, so that the cache holds its activation.
    const secureSetup = `source ${hookFile} 2>/dev/null; for d in ${project} ${cloned} ${plainA}; do cd $d; done 2>/dev/null; __secure_prompt`
    const direnvSetup = `eval "$(direnv hook bash)"; builtin cd ${plainA}`

    // 1. Prompts where nothing changed: the prompt hook alone, many times.
    const securePrompt = timeInBash(secureSetup, {measured: '__secure_prompt', times: 10_000}, environment)
    const securePromptInProfile = timeInBash(`${secureSetup}; cd ${project}`, {measured: '__secure_prompt', times: 10_000}, environment)
    const direnvPrompt = timeInBash(direnvSetup, {measured: '_direnv_hook', times: 200}, environment)

    // 2. Changing into a directory with no profile, and the prompt after it (what a user's `cd` costs).
    const secureChange = timeInBash(secureSetup, {before: `cd ${plainB}`, measured: `cd ${plainA}; __secure_prompt`, times: 1000}, environment)
    const direnvChange = timeInBash(direnvSetup, {before: `builtin cd ${plainB}; _direnv_hook`, measured: `builtin cd ${plainA}; _direnv_hook`, times: 200}, environment)

    // 3. Entering a directory with a profile: seen before (the cache), allowed or not (which removes
    // NPM_TOKEN, so it is exported again before each); the entry point's run; direnv loading an .envrc.
    const secureEnterCached = timeInBash(secureSetup, {before: `cd ${plainA}`, measured: `cd ${project}; __secure_prompt`, times: 300}, environment)
    const secureEnterCachedScrub = timeInBash(secureSetup, {before: `cd ${plainA}; export NPM_TOKEN=x`, measured: `cd ${cloned}; __secure_prompt`, times: 300}, environment)
    const enterTimes = []
    const direnvEnterTimes = []
    const nodeTimes = []
    for (let run = 0; run < 21; run++) {
      let started = process.hrtime.bigint()
      spawnSync(node, ['-e', '0'], {stdio: 'ignore'})
      nodeTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
      started = process.hrtime.bigint()
      spawnSync(node, [join(root, 'dist', 'hook', 'hook-entry.js'), 'bash', project, cacheRoot], {env: environment, stdio: 'ignore'})
      enterTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
      started = process.hrtime.bigint()
      spawnSync('direnv', ['export', 'bash'], {cwd: envrcProject, env: environment, stdio: 'ignore'})
      direnvEnterTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    return {
      securePrompt,
      securePromptInProfile,
      direnvPrompt,
      secureChange,
      direnvChange,
      secureEnterCached,
      secureEnterCachedScrub,
      secureEnter: median(enterTimes),
      direnvEnter: median(direnvEnterTimes),
      nodeFloor: median(nodeTimes),
    }
  } finally {
    rmSync(workspace, {recursive: true, force: true})
  }
}

export function formatHook(result) {
  if (!result) return 'hook: skipped: needs bash and direnv (Debian: apt install direnv)'
  const ms = (value) => (value < 1 ? `${(value * 1000).toFixed(1)} µs` : `${value.toFixed(1)} ms`)
  return [
    `hook: prompt, nothing changed: secure ${ms(result.securePrompt)}, in a profile ${ms(result.securePromptInProfile)} vs direnv ${ms(result.direnvPrompt)} (goal: no process, <= 0.1 ms)`,
    `hook: cd into a directory with no profile: secure ${ms(result.secureChange)} vs direnv ${ms(result.direnvChange)}: ${(result.direnvChange / result.secureChange).toFixed(0)}x cheaper (goal: cheaper than direnv)`,
    `hook: entering a directory with a profile seen before (cache, no Node): secure ${ms(result.secureEnterCached)}, not allowed (removes NPM_TOKEN) ${ms(result.secureEnterCachedScrub)} (goal: <= 40 ms)`,
    `hook: entering a directory with a profile, first time or changed (entry point): secure ${ms(result.secureEnter)} (node -e 0 alone: ${ms(result.nodeFloor)}) vs direnv loading an .envrc ${ms(result.direnvEnter)} (goal: <= 40 ms)`,
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(formatHook(runHookBenchmark()))
