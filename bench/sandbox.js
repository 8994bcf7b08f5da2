// Benchmarks of issue 3, against the named peer in the same run: `secure run -- true` vs a raw
// `docker run` with the same hardening (goal <= 1.3x), and the workspace copy of a generated
// 20,000-file repository (goal <= 1.5 s). Needs rootful Docker with secure-base:bookworm
// (scripts/setup-engines); says so and skips when there is none.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const IMAGE = 'secure-base:bookworm'
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker'
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

function timeRun(command, args, options) {
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, {...options, stdio: ['ignore', 'ignore', 'pipe']})
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

/** The same hardening as secure run's create body (src/sandbox/container-spec.ts), as docker CLI flags. */
function rawDockerArguments(repository, command) {
  return [
    'run', '--rm', '--user', '65534:65534', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--read-only',
    '--tmpfs', '/tmp:rw,exec,nosuid,nodev,size=512m', '--tmpfs', '/var/tmp:rw,exec,nosuid,nodev,size=256m', '--tmpfs', '/run:rw,noexec,nosuid,nodev,size=16m',
    '--tmpfs', '/workspace:rw,exec,nosuid,nodev,size=2147483648,uid=65534,gid=65534,mode=0700',
    '--mount', `type=bind,source=${repository},target=/src,readonly`, '--network', 'none', '--ipc', 'private',
    '--pids-limit', '512', '--memory', '2g', '--memory-swap', '2g', '--cpus', '2', '--init', '-w', '/workspace', IMAGE,
    'sh', '-c', 'mkdir /workspace/repo && tar -C /src -cf - . | tar -C /workspace/repo -xpf - && cd /workspace/repo && exec "$@"', 'secure-run', ...command,
  ]
}

export function runSandboxBenchmark({node = process.execPath, runs = 15} = {}) {
  const available = spawnSync(DOCKER, ['image', 'inspect', IMAGE], {stdio: 'ignore'}).status === 0
  if (!available) return undefined
  const workspace = mkdtempSync(join(tmpdir(), 'secure-bench-sandbox-'))
  try {
    const small = join(workspace, 'small')
    mkdirSync(small)
    writeFileSync(join(small, 'package.json'), '{}\n')
    const large = join(workspace, 'large')
    for (let directory = 0; directory < 200; directory++) {
      mkdirSync(join(large, `d${directory}`), {recursive: true})
      for (let file = 0; file < 100; file++) writeFileSync(join(large, `d${directory}`, `f${file}.js`), `export const value = ${file}\n`)
    }
    const environment = {PATH: process.env.PATH, HOME: workspace}
    const secure = (repository) => timeRun(node, [join(root, 'bin', 'run.js'), 'run', '--engine', 'unix:///var/run/docker.sock', '--image', IMAGE, '--', 'true'], {cwd: repository, env: environment})
    const raw = (repository) => timeRun(DOCKER, rawDockerArguments(repository, ['true']), {env: environment})
    for (let index = 0; index < 2; index++) (secure(small), raw(small))
    const secureTimes = []
    const rawTimes = []
    for (let index = 0; index < runs; index++) {
      rawTimes.push(raw(small))
      secureTimes.push(secure(small))
    }
    const largeTimes = []
    const smallTimes = []
    for (let index = 0; index < 5; index++) {
      smallTimes.push(secure(small))
      largeTimes.push(secure(large))
    }
    return {
      runs,
      secureMilliseconds: median(secureTimes),
      rawMilliseconds: median(rawTimes),
      ratio: median(secureTimes) / median(rawTimes),
      copyMilliseconds: median(largeTimes) - median(smallTimes),
    }
  } finally {
    rmSync(workspace, {recursive: true, force: true})
  }
}

export function formatSandbox(result) {
  if (!result) return `sandbox: skipped: no Docker engine with ${IMAGE} here (sudo scripts/setup-engines makes one)`
  return [
    `sandbox: secure run -- true ${result.secureMilliseconds.toFixed(0)} ms vs the same docker run ${result.rawMilliseconds.toFixed(0)} ms, median of ${result.runs}: ratio ${result.ratio.toFixed(2)}x (goal <= 1.3x)`,
    `sandbox: workspace copy of 20,000 files: ${(result.copyMilliseconds / 1000).toFixed(2)} s (goal <= 1.5 s)`,
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(formatSandbox(runSandboxBenchmark()))
