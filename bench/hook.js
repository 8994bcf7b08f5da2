// Benchmarks of issue 5, the shell hook, against direnv (Debian's) in the same run, both in bash:
// - a prompt where nothing changed (goal: no process, <= 0.1 ms);
// - a directory change into a directory with no profile (goal: cheaper than direnv's export);
// - entering a directory with a profile: the hook's entry point, without oclif (goal: <= 40 ms).
// Skipped, and says so, when bash or direnv is missing.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0

/**
 * Runs `body` in an interactive-like bash that sourced `setup`, and reads the milliseconds it
 * prints: bash's own clock ($EPOCHREALTIME), so the shell's start is not measured.
 */
function timeInBash(setup, body, environment) {
  const script = `${setup}\nstart=$EPOCHREALTIME\n${body}\nend=$EPOCHREALTIME\necho "$start $end" >&3\n`
  const result = spawnSync('bash', ['--norc', '-c', `exec 3>&1; ${script}`], {env: environment, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
  const [start, end] = result.stdout.trim().split('\n').at(-1).split(' ').map(Number)
  return (end - start) * 1000
}

export function runHookBenchmark({node = process.execPath} = {}) {
  if (!has('bash') || !has('direnv')) return undefined
  const workspace = mkdtempSync(join(tmpdir(), 'secure-bench-hook-'))
  try {
    const home = join(workspace, 'home')
    const [plainA, plainB, project, envrcProject] = ['src/a', 'src/b', 'src/project', 'src/envrc'].map((path) => join(home, path))
    for (const directory of [plainA, plainB, project, envrcProject]) mkdirSync(directory, {recursive: true})
    writeFileSync(join(project, '.secure.toml'), '[hook]\nexec = ["twine", "npm publish"]\nrun = ["npm test"]\n')
    writeFileSync(join(envrcProject, '.envrc'), 'export APP_ENV=dev\n')
    const environment = {PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share'), XDG_STATE_HOME: join(home, '.local/state')}
    execFileSync(node, [join(root, 'bin', 'run.js'), 'allow'], {cwd: project, env: environment, stdio: 'ignore'})
    execFileSync('direnv', ['allow'], {cwd: envrcProject, env: environment, stdio: 'ignore'})
    const hook = execFileSync(node, [join(root, 'bin', 'run.js'), 'hook', 'bash'], {env: environment, encoding: 'utf8'})
    const hookFile = join(workspace, 'hook.bash')
    writeFileSync(hookFile, hook)
    const secureSetup = `source ${hookFile} 2>/dev/null; builtin cd ${plainA}; __secure_hook`
    const direnvSetup = `eval "$(direnv hook bash)"; builtin cd ${plainA}`

    // 1. Prompts where nothing changed: the prompt hook alone, many times.
    const prompts = 10_000
    const securePrompt = timeInBash(secureSetup, `for i in $(seq ${prompts}); do __secure_hook; done 2>/dev/null`, environment) / prompts
    const direnvPrompts = 200
    const direnvPrompt = timeInBash(direnvSetup, `for i in $(seq ${direnvPrompts}); do _direnv_hook; done 2>/dev/null`, environment) / direnvPrompts

    // 2. Changing between directories with no profile, then the prompt (what a user's `cd` costs).
    const changes = 1000
    const secureChange = timeInBash(secureSetup, `for i in $(seq ${changes}); do cd ${plainB}; __secure_hook; cd ${plainA}; __secure_hook; done 2>/dev/null`, environment) / (2 * changes)
    const direnvChanges = 200
    const direnvChange = timeInBash(direnvSetup, `for i in $(seq ${direnvChanges}); do builtin cd ${plainB}; _direnv_hook; builtin cd ${plainA}; _direnv_hook; done 2>/dev/null`, environment) / (2 * direnvChanges)

    // 3. Entering a directory with a profile: the entry point's run, vs direnv loading an allowed .envrc.
    const enterTimes = []
    const direnvEnterTimes = []
    const nodeTimes = []
    for (let run = 0; run < 21; run++) {
      let started = process.hrtime.bigint()
      spawnSync(node, ['-e', '0'], {stdio: 'ignore'})
      nodeTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
      started = process.hrtime.bigint()
      spawnSync(node, [join(root, 'dist', 'hook', 'hook-entry.js'), 'bash', project], {env: environment, stdio: 'ignore'})
      enterTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
      started = process.hrtime.bigint()
      spawnSync('direnv', ['export', 'bash'], {cwd: envrcProject, env: environment, stdio: 'ignore'})
      direnvEnterTimes.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    return {securePrompt, direnvPrompt, secureChange, direnvChange, secureEnter: median(enterTimes), direnvEnter: median(direnvEnterTimes), nodeFloor: median(nodeTimes)}
  } finally {
    rmSync(workspace, {recursive: true, force: true})
  }
}

export function formatHook(result) {
  if (!result) return 'hook: skipped: needs bash and direnv (Debian: apt install direnv)'
  const ms = (value) => (value < 1 ? `${(value * 1000).toFixed(1)} µs` : `${value.toFixed(1)} ms`)
  return [
    `hook: prompt, nothing changed: secure ${ms(result.securePrompt)} vs direnv ${ms(result.direnvPrompt)} (goal: no process, <= 0.1 ms)`,
    `hook: cd into a directory with no profile: secure ${ms(result.secureChange)} vs direnv ${ms(result.direnvChange)}: ${(result.direnvChange / result.secureChange).toFixed(0)}x cheaper (goal: cheaper than direnv)`,
    `hook: entering a directory with a profile: secure ${ms(result.secureEnter)} (node -e 0 alone: ${ms(result.nodeFloor)}) vs direnv loading an .envrc ${ms(result.direnvEnter)} (goal: <= 40 ms)`,
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(formatHook(runHookBenchmark()))
