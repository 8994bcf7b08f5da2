import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {statSync} from 'node:fs'
import {chmod, copyFile, mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import Docker from 'dockerode'
import {execa} from 'execa'
import {describe, expect, it, onTestFinished} from 'vitest'

import {describeOwner} from '../../src/sandbox/container-owner.js'
import {cliEntry, givenCliWorkspace} from '../helpers/cli.js'
import {REQUIRED_ENGINES, TEST_BASE_IMAGE, findEngines, givenSandboxWorkspace} from '../helpers/engines.js'

const engines = await findEngines()
const IMAGE = TEST_BASE_IMAGE
const escapeBattery = fileURLToPath(new URL('../fixtures/sandbox/escape-battery.sh', import.meta.url))
const withTerminal = fileURLToPath(new URL('../fixtures/bin/with-terminal.py', import.meta.url))

/** Whether the engine's socket is another user's: rootless Podman served for another user (setup-engines). */
function engineRunsAsAnotherUser(url: string): boolean {
  const owner = statSync(url.replace('unix://', '')).uid
  return owner !== 0 && owner !== process.getuid!()
}

describe('engines present', () => {
  it.runIf(process.env.CI)('CI has Docker and rootless Podman', () => {
    expect(engines.map((engine) => engine.name)).toEqual(expect.arrayContaining(REQUIRED_ENGINES))
  })
})

describe.each(engines)('secure run on $name', (engine) => {
  const {name, url} = engine
  /** An "untrusted" repository, readable by the engine's user, and a shell holding credentials. */
  async function givenUntrustedRepository() {
    const workspace = await givenSandboxWorkspace(engine)
    await writeFile(join(workspace.repository, 'package.json'), '{"name": "untrusted", "scripts": {"test": "true"}}\n')
    const runSandboxed = (args: string[], env: Record<string, string> = {}) => workspace.runSandboxed(['--image', IMAGE, ...args], env)
    return {...workspace, runSandboxed}
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

  it('keeps the exit code of a command that is quiet for longer than the engine connection timeout (10 s)', {timeout: 60_000}, async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--', 'sh', '-c', 'sleep 11; echo done; exit 3'])
    expect(result.stdout).toBe('done')
    expect(result.exitCode).toBe(3)
  })

  it('removes the container when the command ends', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const result = await runSandboxed(['--', 'sh', '-c', 'cat /proc/self/cgroup | head -1; hostname'])
    expect(result.exitCode).toBe(0)
    const hostname = result.stdout.split('\n').at(-1)!
    const list = execFileSync('curl', ['-sf', '--unix-socket', url.replace('unix://', ''), 'http://d/containers/json?all=1'], {encoding: 'utf8'})
    expect(list).not.toContain(hostname.slice(0, 12))
  })

  it('leaves no container behind even when secure itself is killed: the next run removes it, still running', async () => {
    const workspace = await givenUntrustedRepository()
    const running = execa(process.execPath, [cliEntry, 'run', '--engine', url, '--image', IMAGE, '--', 'sh', '-c', 'hostname; sleep 300'], {
      cwd: workspace.repository,
      env: workspace.environment,
      extendEnv: false,
      reject: false,
    })
    const [hostname] = (await once(running.stdout!, 'data')) as [Buffer]
    running.kill('SIGKILL')
    await running
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

  it('leaves out what the sandbox\'s user cannot read, names it in one warning, and still runs the command', async () => {
    const {runSandboxed, repository} = await givenUntrustedRepository()
    // Mode 000: unreadable to any container user, whatever uid it runs as (it has no capabilities).
    await writeFile(join(repository, '.env'), 'API_KEY=kept-from-the-sandbox\n')
    await mkdir(join(repository, 'private'))
    await writeFile(join(repository, 'private', 'key.pem'), 'kept-from-the-sandbox\n')
    await chmod(join(repository, '.env'), 0o000)
    await chmod(join(repository, 'private'), 0o000)
    try {
      const result = await runSandboxed(['--', 'sh', '-c', 'ls -A; grep -r kept-from-the-sandbox . || echo none; exit 4'])
      expect(result.exitCode).toBe(4)
      expect(result.stdout.split('\n')).toEqual(['.git', 'package.json', 'none'])
      expect(result.stderr.split('\n').slice(1)).toEqual(['secure: warning: not copied into the sandbox, as its user cannot read them (.secureignore them to silence this): .env, private'])
      // Left out on purpose, they go unmentioned.
      await writeFile(join(repository, '.secureignore'), '.env\nprivate/\n')
      const quiet = await runSandboxed(['--', 'true'])
      expect(quiet.stderr).not.toContain('warning')
      expect(quiet.exitCode).toBe(0)
    } finally {
      await chmod(join(repository, 'private'), 0o755)
    }
  })

  it('says in one line when the sandbox\'s user cannot read the repository\'s directory at all, and runs nothing', async () => {
    const {runSandboxed, repository} = await givenUntrustedRepository()
    // Write and search, no read: not even its owner can list it without a capability.
    await chmod(repository, 0o300)
    try {
      const result = await runSandboxed(['--', 'sh', '-c', 'echo ran'])
      expect(result.exitCode).toBe(125)
      expect(result.stdout).toBe('')
      expect(result.stderr.split('\n').slice(1)).toEqual([
        expect.stringMatching(/^secure: the sandbox's user \(uid \d+\) cannot read the repository's directory; let it in \(chmod o\+rx on that directory\)$/),
      ])
    } finally {
      await chmod(repository, 0o755)
    }
  })

  it.runIf(engineRunsAsAnotherUser(url))('says in one line when the engine, another user\'s, cannot reach the repository', async () => {
    const {runSandboxed, repository, home} = await givenUntrustedRepository()
    await chmod(home, 0o700)
    try {
      const result = await runSandboxed(['--', 'true'])
      expect(result.exitCode).toBe(69)
      expect(result.stderr.split('\n').slice(1)).toEqual([
        `secure: error: the container engine cannot read the repository ${repository} (permission denied)`,
        expect.stringMatching(/^hint: the engine runs as another user: /),
      ])
    } finally {
      await chmod(home, 0o755)
    }
  })

  it('gives the command a terminal of the user\'s size before it starts, and passes on a resize', async () => {
    const workspace = await givenUntrustedRepository()
    const command = 'stty size; trap "stty size; exit 5" WINCH; echo ready; while :; do sleep 0.1; done'
    const result = await execa('python3', [withTerminal, process.execPath, cliEntry, 'run', '--engine', url, '--image', IMAGE, '--', 'sh', '-c', command], {
      cwd: workspace.repository,
      env: workspace.environment,
      extendEnv: false,
      reject: false,
    })
    // Both terminals, the container's and the one secure runs on, turn a newline into CR LF.
    const lines = result.stdout.split(/[\r\n]+/)
    expect(lines.filter((line) => /^\d+ \d+$/.test(line))).toEqual(['30 100', '40 120'])
    expect(result.exitCode).toBe(5)
  })

  it('runs at the same time as another run: each gets its own exit code', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const results = await Promise.all([3, 4, 5].map((code) => runSandboxed(['--', 'sh', '-c', `exit ${code}`])))
    expect(results.map((result) => [result.exitCode, result.stderr.split('\n').slice(1)])).toEqual([3, 4, 5].map((code) => [code, []]))
  })

  it('never removes the container of a live run, even before it starts, but removes those of runs that are gone', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const docker = new Docker({socketPath: url.replace('unix://', '')})
    const exited = spawn(process.execPath, ['-e', ''])
    await once(exited, 'exit')
    const create = async (owner: string) => (await docker.createContainer({Image: IMAGE, Cmd: ['true'], Labels: {'dev.secure.run': owner}, HostConfig: {NetworkMode: 'none'}})).id
    // One as another secure run leaves it between its create and its start, one of a secure killed since.
    const live = await create(await describeOwner())
    onTestFinished(() => docker.getContainer(live).remove({force: true}))
    const orphaned = await create(`${hostname()}/${exited.pid}/1`)
    expect((await runSandboxed(['--', 'true'])).exitCode).toBe(0)
    const remaining = (await docker.listContainers({all: true})).map((container) => container.Id)
    expect(remaining).toContain(live)
    expect(remaining).not.toContain(orphaned)
  })

  it('refuses to pass a credential into the sandbox unless forced', async () => {
    const {runSandboxed} = await givenUntrustedRepository()
    const refused = await runSandboxed(['--env', 'NPM_TOKEN', '--', 'true'])
    expect(refused.exitCode).toBe(77)
    expect(refused.stderr).toBe('secure: error: refusing to pass NPM_TOKEN into the sandbox: it looks like a credential\nhint: the sandbox is for code you do not trust; if you really mean it, add --force-env')
  })

  it('turns the network on from the repository profile only once the profile is allowed; --no-network wins', async () => {
    const {runSandboxed, repository, run} = await givenUntrustedRepository()
    await writeFile(join(repository, '.secure.toml'), '[sandbox]\nnetwork = true\n')
    const interfaces = async (args: string[] = []) => (await runSandboxed([...args, '--', 'ls', '/sys/class/net'])).stdout.split('\n').sort()
    expect(await interfaces()).toEqual(['lo'])
    expect((await run(['allow'])).exitCode).toBe(0)
    expect((await interfaces()).length).toBeGreaterThan(1)
    expect(await interfaces(['--no-network'])).toEqual(['lo'])
  })

  it.runIf(name !== 'rootless Podman')('refuses a rootful engine with --require-rootless', async () => {
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

