import {execFileSync} from 'node:child_process'
import {once} from 'node:events'
import {chmod, copyFile, readdir, readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {cliEntry, givenCliWorkspace} from '../helpers/cli.js'

/**
 * The engines this machine has: rootful Docker, and rootless Podman served for another user (the
 * one scripts/setup-engines makes). CI must have both; a developer machine runs what it has.
 */
async function findEngines(): Promise<Array<{name: string; url: string}>> {
  const engines: Array<{name: string; url: string}> = []
  const isSocket = async (path: string) => (await stat(path).catch(() => undefined))?.isSocket() ?? false
  if (await isSocket('/var/run/docker.sock')) engines.push({name: 'Docker', url: 'unix:///var/run/docker.sock'})
  // The Podman of scripts/setup-engines' user, else this user's own: not any other user's.
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  const setupUid = /^secure-podman:[^:]*:(\d+):/m.exec(passwd)?.[1]
  const runtimeDirectory = setupUid ? `/run/user/${setupUid}` : process.env.XDG_RUNTIME_DIR
  const socket = runtimeDirectory && `${runtimeDirectory}/podman/podman.sock`
  if (socket && (await isSocket(socket))) engines.push({name: 'rootless Podman', url: `unix://${socket}`})
  return engines
}

const engines = await findEngines()
const required = ['Docker', 'rootless Podman']
const IMAGE = 'secure-base:bookworm'
const escapeBattery = fileURLToPath(new URL('../fixtures/sandbox/escape-battery.sh', import.meta.url))

describe('engines present', () => {
  it.runIf(process.env.CI)('CI has Docker and rootless Podman', () => {
    expect(engines.map((engine) => engine.name)).toEqual(required)
  })
})

describe.each(engines)('secure run on $name', ({name, url}) => {
  /** An "untrusted" repository, readable by the engine's user, and a shell holding credentials. */
  async function givenUntrustedRepository() {
    const workspace = await givenCliWorkspace()
    await chmod(workspace.root, 0o755)
    for (const directory of [workspace.home, join(workspace.home, 'src'), workspace.repository]) await chmod(directory, 0o755)
    execFileSync('git', ['init', '-q', workspace.repository])
    await writeFile(join(workspace.repository, 'package.json'), '{"name": "untrusted", "scripts": {"test": "true"}}\n')
    const run = (args: string[], env: Record<string, string> = {}) =>
      workspace.run(['run', '--engine', url, '--image', IMAGE, ...args], {env: {TERM: 'xterm-test', NPM_TOKEN: 'npm_hostTokenThatMustNotLeak00', SSH_AUTH_SOCK: '/tmp/agent.sock', ...env}})
    return {...workspace, runSandboxed: run}
  }

  it('passes the exit code through and says what isolation the run got', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--', 'sh', '-c', 'echo out; echo err >&2; exit 7'])
    expect(result.exitCode).toBe(7)
    expect(result.stdout).toBe('out')
    expect(result.stderr).toMatch(new RegExp(`^secure: isolation: ${name === 'Docker' ? 'Docker' : 'Podman'} .*\\nerr$`))
  })

  it('gives the command no host environment, no capability, no new privileges, no root and no network', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed([
      '--',
      'sh',
      '-c',
      'env | cut -d= -f1 | sort | tr "\\n" " "; echo; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs)" /proc/self/status; id -u; ls /sys/class/net; test -e /var/run/docker.sock && echo ENGINE-SOCKET; ls -A /tmp',
    ])
    expect(result.exitCode).toBe(0)
    const [names, ...lines] = result.stdout.split('\n')
    expect(names!.trim().split(' ').filter((variable) => !['PWD', 'OLDPWD', 'SHLVL', '_', 'PATH', 'HOSTNAME', 'container'].includes(variable))).toEqual(['HOME', 'TERM'])
    expect(lines).toEqual(expect.arrayContaining(['CapEff:\t0000000000000000', 'CapPrm:\t0000000000000000', 'CapBnd:\t0000000000000000', 'NoNewPrivs:\t1', 'lo']))
    expect(lines.find((line) => /^\d+$/.test(line))).not.toBe('0')
    expect(result.stdout).not.toContain('ENGINE-SOCKET')
    expect(result.stdout).not.toContain('npm_hostTokenThatMustNotLeak00')
  })

  it('runs in a throwaway copy: nothing the command writes reaches the checkout', async () => {
    const {runSandboxed, repository} = await givenUntrustedRepository()
    const before = await readFile(join(repository, '.git', 'config'), 'utf8')
    const result = await runSandboxed([
      '--',
      'sh',
      '-c',
      [
        'git_dir=.git',
        'printf "[core]\\n\\tfsmonitor = touch /tmp/pwned\\n" >> $git_dir/config',
        'printf "#!/bin/sh\\ntouch /tmp/pwned\\n" > $git_dir/hooks/pre-commit && chmod +x $git_dir/hooks/pre-commit',
        'mkdir -p sub/.git && echo "[core] fsmonitor = x" > sub/.git/config',
        'mkdir -p .vscode node_modules/.bin && echo "{}" > .vscode/tasks.json && echo evil > node_modules/.bin/jest',
        'echo changed > package.json',
        'ls package.json sub/.git/config .vscode/tasks.json',
      ].join(' && '),
    ])
    expect(result.exitCode).toBe(0)
    expect(await readFile(join(repository, '.git', 'config'), 'utf8')).toBe(before)
    expect(await readdir(join(repository, '.git', 'hooks'))).not.toContain('pre-commit')
    expect((await readdir(repository)).sort()).toEqual(['.git', 'package.json'])
    expect(await readFile(join(repository, 'package.json'), 'utf8')).toContain('"untrusted"')
  })

  it('removes the container when the command ends', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--', 'sh', '-c', 'cat /proc/self/cgroup | head -1; hostname'])
    expect(result.exitCode).toBe(0)
    const hostname = result.stdout.split('\n').at(-1)!
    const list = execFileSync('curl', ['-sf', '--unix-socket', url.replace('unix://', ''), 'http://d/containers/json?all=1'], {encoding: 'utf8'})
    expect(list).not.toContain(hostname.slice(0, 12))
  })

  it('leaves no container behind even when secure itself is killed (Docker at once, Podman at the next run)', async () => {
    const workspace = await givenUntrustedRepository()
    const running = execa(process.execPath, [cliEntry, 'run', '--engine', url, '--image', IMAGE, '--', 'sh', '-c', 'hostname; sleep 1'], {
      cwd: workspace.repository,
      env: workspace.environment,
      extendEnv: false,
      reject: false,
    })
    const [hostname] = (await once(running.stdout!, 'data')) as [Buffer]
    running.kill('SIGKILL')
    await running
    await new Promise((resolve) => setTimeout(resolve, 2500))
    await workspace.runSandboxed(['--', 'true'])
    const list = execFileSync('curl', ['-sf', '--unix-socket', url.replace('unix://', ''), 'http://d/containers/json?all=1'], {encoding: 'utf8'})
    expect(list).not.toContain(hostname.toString().trim().slice(0, 12))
  })

  it('holds the command to the pids limit when the engine enforces limits, and says so when it does not', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--pids', '16', '--', 'sh', '-c', 'for i in $(seq 40); do sleep 2 & done 2>/dev/null; sleep 0.5; ls /proc | grep -c "^[0-9]"'])
    if (/limits enforced/.test(result.stderr)) {
      expect(Number(result.stdout.trim().split('\n').at(-1))).toBeLessThanOrEqual(16)
    } else {
      expect(result.stderr).toContain('limits NOT enforced')
    }
  })

  it('passes the escape battery: no host env, home, socket, capability, setuid, checkout write, extra process or network', async () => {
    const {runSandboxed, repository, home} = await givenUntrustedRepository()
    const marker = `secure-escape-marker-${process.pid}`
    await writeFile(join(home, marker), 'the host user\'s home must not be visible')
    await copyFile(escapeBattery, join(repository, 'escape-battery.sh'))
    const probe = await runSandboxed(['--', 'true'])
    const pidsLimit = /limits enforced/.test(probe.stderr) ? '64' : 'unenforced'
    const result = await runSandboxed(['--pids', '64', '--', 'sh', 'escape-battery.sh', marker, pidsLimit], {SECURE_ESCAPE_MARKER: marker})
    expect(result.stdout.split('\n').filter((line) => line.startsWith('ESCAPE'))).toEqual([])
    expect(result.stdout).toContain('escapes: 0')
    expect(result.exitCode).toBe(0)
    expect((await readdir(repository)).sort()).toEqual(['.git', 'escape-battery.sh', 'package.json'])
  })

  it('gives the command a terminal when run from one, and its input', async () => {
    const workspace = await givenUntrustedRepository()
    // script(1) runs secure on a pseudo-terminal, as a user's shell would.
    const command = `${process.execPath} ${cliEntry} run --engine ${url} --image ${IMAGE} -- sh -c 'tty; read answer; echo "got $answer"; exit 6'`
    const result = await execa('script', ['-qec', command, '/dev/null'], {cwd: workspace.repository, env: workspace.environment, extendEnv: false, reject: false, input: 'yes\n'})
    expect(result.stdout).toMatch(/\/dev\/pts\/\d+/)
    expect(result.stdout).toContain('got yes')
    expect(result.exitCode).toBe(6)
  })

  it('gives the command exactly the input piped to secure', async () => {
    const workspace = await givenUntrustedRepository()
    const result = await execa(process.execPath, [cliEntry, 'run', '--engine', url, '--image', IMAGE, '--', 'sh', '-c', 'cat | od -c | head -2'], {
      cwd: workspace.repository,
      env: workspace.environment,
      extendEnv: false,
      reject: false,
      input: 'ab\n',
    })
    expect(result.stdout).toBe('0000000   a   b  \\n\n0000003')
  })

  it('refuses to pass a credential into the sandbox unless forced', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const refused = await runSandboxed(['--env', 'NPM_TOKEN', '--', 'true'])
    expect(refused.exitCode).toBe(77)
    expect(refused.stderr).toBe('secure: error: refusing to pass NPM_TOKEN into the sandbox: it looks like a credential\nhint: the sandbox is for code you do not trust; if you really mean it, add --force-env')
  })

  it.runIf(name === 'Docker')('refuses a rootful engine with --require-rootless', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--require-rootless', '--', 'true'])
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toContain('refusing a rootful engine')
  })
})

describe('secure run without an engine', () => {
  it('says so in one line with a hint, and exits 69', async () => {
    const workspace = await givenCliWorkspace()
    const result = await workspace.run(['run', '--engine', `unix://${join(workspace.root, 'none.sock')}`, '--', 'true'])
    expect(result.exitCode).toBe(69)
    expect(result.stderr.split('\n')).toEqual([expect.stringMatching(/^secure: error: the container engine at --engine: .* does not answer \(ENOENT\)$/), expect.stringMatching(/^hint: /)])
  })
})

