import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {text} from 'node:stream/consumers'
import {appendFile, mkdir, open, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {cliEntry, givenCliWorkspace} from '../helpers/cli.js'

const shells = (['bash', 'zsh', 'fish'] as const).filter((shell) => {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})

describe('shells present', () => {
  it.runIf(process.env.CI)('CI has bash, zsh and fish', () => {
    expect(shells).toEqual(['bash', 'zsh', 'fish'])
  })
})

/**
 * A maintainer's home with three repositories: an allowed profile that routes commands, a cloned
 * one whose profile is not allowed, and one with no profile; and an interactive shell of each kind
 * with the hook in its rc file, holding ambient credentials.
 */
async function givenShell(shell: (typeof shells)[number]) {
  const workspace = await givenCliWorkspace()
  const src = join(workspace.home, 'src')
  const repositories = {allowed: join(src, 'project'), cloned: join(src, 'cloned'), plain: join(src, 'plain'), nested: join(src, 'project', 'tools')}
  for (const directory of Object.values(repositories)) await mkdir(directory, {recursive: true})
  await writeFile(join(repositories.allowed, '.secure.toml'), '[hook]\nexec = ["printenv"]\nrun = ["npm test"]\n')
  await writeFile(join(repositories.cloned, '.secure.toml'), '[hook]\nexec = ["printenv"]\n')
  await writeFile(join(repositories.nested, '.secure.toml'), '[hook]\nexec = ["env"]\n')
  for (const directory of [repositories.allowed, repositories.nested]) expect((await workspace.run(['allow'], {cwd: directory})).exitCode).toBe(0)

  const hook = await workspace.run(['hook', shell])
  expect(hook.exitCode).toBe(0)
  const rcDirectory = join(workspace.root, 'rc')
  await mkdir(join(rcDirectory, 'fish'), {recursive: true})
  const rc = {bash: join(rcDirectory, 'bashrc'), zsh: join(rcDirectory, '.zshrc'), fish: join(rcDirectory, 'fish', 'config.fish')}[shell]
  await writeFile(rc, hook.stdout)
  const environment = {...workspace.environment, NPM_TOKEN: 'npm_ambientTokenInTheShell0000', ZDOTDIR: rcDirectory, XDG_CONFIG_HOME: rcDirectory, TERM: 'dumb'}
  const argv = {bash: ['--rcfile', rc, '-i'], zsh: ['-i'], fish: ['-i']}[shell]
  /** Types `lines` into an interactive shell, as a user would, and returns what it printed. */
  const type = async (lines: string[]) => {
    // A file descriptor of its own: fish cannot read commands from a socket pair, which is what Node
    // (and execa's input options) give a child as its stdin.
    const typed = join(workspace.root, 'typed')
    await writeFile(typed, `${lines.join('\n')}\nexit\n`)
    const input = await open(typed, 'r')
    try {
      const child = spawn(shell, argv, {cwd: workspace.home, env: environment, stdio: [input.fd, 'pipe', 'pipe']})
      const [stdout, stderr] = await Promise.all([text(child.stdout!), text(child.stderr!), once(child, 'close')])
      return {stdout: stdout.trim(), stderr: stderr.trim()}
    } finally {
      await input.close()
    }
  }
  return {workspace, repositories, type, hookCode: hook.stdout}
}

describe.each(shells)('the %s hook', (shell) => {
  const functionExists = (name: string) => (shell === 'fish' ? `functions -q ${name}; and echo FN:${name}; or echo NOFN:${name}` : `if typeset -f ${name} >/dev/null; then echo FN:${name}; else echo NOFN:${name}; fi`)

  it('defines the allowed profile\'s wrappers on entering, routes them through secure, and removes them on leaving', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.allowed}`, functionExists('printenv'), functionExists('npm'), 'printenv SECURE_EXEC', `cd ${repositories.plain}`, functionExists('printenv')])
    expect(stdout).toMatch(/FN:printenv[\s\S]*FN:npm[\s\S]*NOFN:printenv/)
    // printenv ran through secure exec: its environment has secure exec's marker, the profile.
    expect(stdout).toContain('~/src/project/.secure.toml')
    expect(stderr).toContain('secure: ~/src/project: printenv → secure exec, npm test → secure run')
    expect(stderr).toContain('secure: left ~/src/project (allowed)')
  })

  it('removes ambient credentials on entering a repository whose profile is not allowed, for the command on the same line', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.cloned} && env | grep -c NPM_TOKEN`, functionExists('printenv')])
    expect(stdout).toMatch(/(^|\n)0\n/)
    expect(stdout).toContain('NOFN:printenv')
    expect(stderr).toContain('secure: ~/src/cloned: profile NOT ALLOWED; review it (secure status), then: secure allow; removed')
    expect(stderr).toMatch(/removed [^\n]*NPM_TOKEN/)
  })

  it('an edit makes an allowed profile inert at once, and secure allow in the shell brings it back', async () => {
    const {repositories, type} = await givenShell(shell)
    await appendFile(join(repositories.allowed, '.secure.toml'), '# edited\n')
    const {stdout, stderr} = await type([`cd ${repositories.allowed}`, functionExists('printenv'), 'secure allow >/dev/null 2>&1', functionExists('printenv')])
    expect(stderr).toContain('secure: ~/src/project: profile NOT ALLOWED')
    expect(stdout).toMatch(/NOFN:printenv[\s\S]*FN:printenv/)
  })

  it('a nested profile wins in its directory, and the outer one comes back on the way out', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.nested}`, functionExists('env'), functionExists('printenv'), 'cd ..', functionExists('env'), functionExists('printenv')])
    expect(stdout, stderr).toMatch(/FN:env[\s\S]*NOFN:printenv[\s\S]*NOFN:env[\s\S]*FN:printenv/)
  })

  it('leaves nothing of secure in any exported variable: a child sees no profile, state or diff', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout} = await type([`cd ${repositories.allowed}`, `cd ${repositories.cloned}`, 'env | grep -ci secure_ ; env | grep -c SECURE_PROFILE'])
    expect(stdout.trim().split('\n').slice(-2)).toEqual(['0', '0'])
  })
})

describe.runIf(shells.includes('bash'))('the bash hook', () => {
  it('uses nothing newer than bash 3.2 has (macOS): no associative arrays, mapfile, ${x,,}, nameref or coproc', async () => {
    const {hookCode} = await givenShell('bash')
    for (const newer of ['declare -A', 'mapfile', 'readarray', ',,}', '^^}', 'declare -n', 'coproc', '|&', '&>>']) expect(hookCode).not.toContain(newer)
  })
})

describe.runIf(shells.length > 0)('secure hook', () => {
  it('refuses a shell it does not know, in one line', async () => {
    const workspace = await givenCliWorkspace()
    const result = await execa(process.execPath, [cliEntry, 'hook', 'tcsh'], {env: workspace.environment, extendEnv: false, reject: false})
    expect(result.exitCode).toBe(2)
    expect(result.stderr.split('\n')[0]).toMatch(/^secure: error: .*tcsh/)
  })
})
