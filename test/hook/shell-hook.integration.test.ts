import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {text} from 'node:stream/consumers'
import {appendFile, mkdir, open, readFile, stat, utimes, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {isAmbientCredential} from '../../src/secrets/ambient-credentials.js'
import {cliEntry, givenCliWorkspace} from '../helpers/cli.js'

const shells = (['bash', 'zsh', 'fish'] as const).filter((shell) => {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})
type Shell = (typeof shells)[number]

describe('shells present', () => {
  it.runIf(process.env.CI)('CI has bash, zsh and fish', () => {
    expect(shells).toEqual(['bash', 'zsh', 'fish'])
  })
})

/**
 * A maintainer's home with three repositories: an allowed profile that routes commands, a cloned
 * one whose profile is not allowed, and one with no profile; and an interactive shell of each kind
 * with the hook in its rc file (after `before`, before `after`), holding ambient credentials.
 */
async function givenShell(shell: Shell, rc: {before?: string; after?: string} = {}) {
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
  const hookFile = join(rcDirectory, 'hook')
  await writeFile(hookFile, hook.stdout)
  const rcFile = {bash: join(rcDirectory, 'bashrc'), zsh: join(rcDirectory, '.zshrc'), fish: join(rcDirectory, 'fish', 'config.fish')}[shell]
  // fish at its first prompt: no greeting, and no completions generated from man pages in the background.
  const quietFish = shell === 'fish' ? 'set -g fish_greeting' : ''
  if (shell === 'fish') await mkdir(join(workspace.home, '.local', 'share', 'fish', 'generated_completions'), {recursive: true})
  await writeFile(rcFile, `${quietFish}\n${rc.before ?? ''}\n${hook.stdout}\n${rc.after ?? ''}\n`)
  const environment = {...workspace.environment, NPM_TOKEN: 'npm_ambientTokenInTheShell0000', ZDOTDIR: rcDirectory, XDG_CONFIG_HOME: rcDirectory, TERM: 'dumb'}
  const argv = {bash: ['--rcfile', rcFile, '-i'], zsh: ['-i'], fish: ['-i']}[shell]
  /**
   * Types `lines` into an interactive shell, as a user would, and returns what it printed. bash and
   * zsh draw a prompt (and run its hooks) before each line; fish reading a file does not, so each
   * line is followed by the event fish sends before drawing a prompt.
   */
  const type = async (lines: string[]) => {
    // A file descriptor of its own: fish cannot read commands from a socket pair, which is what Node
    // (and execa's input options) give a child as its stdin.
    const typed = join(workspace.root, 'typed')
    await writeFile(typed, `${lines.flatMap((line) => (shell === 'fish' ? [line, 'emit fish_prompt'] : [line])).join('\n')}\nexit\n`)
    const input = await open(typed, 'r')
    try {
      const child = spawn(shell, argv, {cwd: workspace.home, env: environment, stdio: [input.fd, 'pipe', 'pipe']})
      const [stdout, stderr] = await Promise.all([text(child.stdout!), text(child.stderr!), once(child, 'close')])
      // fish's own prompt handlers switch bracketed paste on and off: terminal codes, not output.
      const plain = (output: string) => output.replaceAll(/\u001B\[[0-9;?]*[A-Za-z]/g, '').trim()
      return {stdout: plain(stdout), stderr: plain(stderr)}
    } finally {
      await input.close()
    }
  }
  /** A line that runs secure itself, not the shell's `secure` function: as from another terminal. */
  const elsewhere = (...args: string[]) => `'${process.execPath}' '${cliEntry}' ${args.join(' ')} >/dev/null 2>&1`
  const setVariable = (name: string, value: string) => (shell === 'fish' ? `set -g ${name} ${value}` : `${name}=${value}`)
  const exportVariable = (name: string, value: string) => (shell === 'fish' ? `set -gx ${name} ${value}` : `export ${name}=${value}`)
  return {workspace, repositories, type, hookCode: hook.stdout, hookFile, elsewhere, setVariable, exportVariable}
}

const functionExists = (shell: Shell, name: string) =>
  shell === 'fish' ? `functions -q ${name}; and echo FN:${name}; or echo NOFN:${name}` : `if typeset -f ${name} >/dev/null; then echo FN:${name}; else echo NOFN:${name}; fi`

describe.each(shells)('the %s hook', (shell) => {
  const exists = (name: string) => functionExists(shell, name)

  it('defines the allowed profile\'s wrappers on entering, routes them through secure, and removes them on leaving', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.allowed}`, exists('printenv'), exists('npm'), 'printenv SECURE_EXEC', `cd ${repositories.plain}`, exists('printenv')])
    expect(stdout).toMatch(/FN:printenv[\s\S]*FN:npm[\s\S]*NOFN:printenv/)
    // printenv ran through secure exec: its environment has secure exec's marker, the profile.
    expect(stdout).toContain('~/src/project/.secure.toml')
    expect(stderr).toContain('secure: ~/src/project: printenv → secure exec, npm test → secure run')
    expect(stderr).toContain('secure: left ~/src/project (allowed)')
  })

  it('removes ambient credentials on entering a repository whose profile is not allowed, for the command on the same line', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.cloned} && env | grep -c NPM_TOKEN`, exists('printenv')])
    expect(stdout).toMatch(/(^|\n)0\n/)
    expect(stdout).toContain('NOFN:printenv')
    expect(stderr).toContain('secure: ~/src/cloned: profile NOT ALLOWED; review it (secure status), then: secure allow; removed')
    expect(stderr).toMatch(/removed [^\n]*NPM_TOKEN/)
  })

  it('an edit makes an allowed profile inert at once, and secure allow in the shell brings it back', async () => {
    const {repositories, type} = await givenShell(shell)
    await appendFile(join(repositories.allowed, '.secure.toml'), '# edited\n')
    const {stdout, stderr} = await type([`cd ${repositories.allowed}`, exists('printenv'), 'secure allow >/dev/null 2>&1', exists('printenv')])
    expect(stderr).toContain('secure: ~/src/project: profile NOT ALLOWED')
    expect(stdout).toMatch(/NOFN:printenv[\s\S]*FN:printenv/)
  })

  it('a nested profile wins in its directory, and the outer one comes back on the way out', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout, stderr} = await type([`cd ${repositories.nested}`, exists('env'), exists('printenv'), 'cd ..', exists('env'), exists('printenv')])
    expect(stdout, stderr).toMatch(/FN:env[\s\S]*NOFN:printenv[\s\S]*NOFN:env[\s\S]*FN:printenv/)
  })

  it('leaves nothing of secure in any exported variable: a child sees no profile, state or diff', async () => {
    const {repositories, type} = await givenShell(shell)
    const {stdout} = await type([`cd ${repositories.allowed}`, `cd ${repositories.cloned}`, 'env | grep -ci secure_ ; env | grep -c SECURE_PROFILE'])
    expect(stdout.trim().split('\n').slice(-2)).toEqual(['0', '0'])
  })

  describe('what changes while you stay in a directory counts from the next prompt', () => {
    it('an edit to the active profile: its wrappers go and the credentials are removed', async () => {
      const {repositories, type} = await givenShell(shell)
      const {stdout, stderr} = await type([`cd ${repositories.allowed}`, exists('printenv'), "printf '# edited\\n' >> .secure.toml", exists('printenv'), 'env | grep -c NPM_TOKEN'])
      expect(stdout).toMatch(/FN:printenv\nNOFN:printenv\n0$/)
      expect(stderr).toMatch(/secure: ~\/src\/project: profile NOT ALLOWED; review it \(secure status\), then: secure allow; removed [^\n]*NPM_TOKEN/)
    })

    it('a deny from another terminal: the wrappers go, at once and on coming back; an allow there lifts it', async () => {
      const {repositories, type, elsewhere} = await givenShell(shell)
      const {stdout, stderr} = await type([
        `cd ${repositories.allowed}`,
        exists('printenv'),
        elsewhere('deny'),
        exists('printenv'),
        `cd ${repositories.plain}`,
        `cd ${repositories.allowed}`,
        exists('printenv'),
        elsewhere('allow'),
        exists('printenv'),
      ])
      expect(stdout).toMatch(/FN:printenv\nNOFN:printenv\nNOFN:printenv\nFN:printenv$/)
      expect(stderr).toContain('secure: ~/src/project: no wrapped commands; ignoring ~/src/project/.secure.toml: denied (secure allow lifts it)')
    })

    it('an allow from another terminal: the wrappers come', async () => {
      const {repositories, type, elsewhere} = await givenShell(shell)
      const {stdout, stderr} = await type([`cd ${repositories.cloned}`, exists('printenv'), elsewhere('allow'), exists('printenv')])
      expect(stdout).toMatch(/NOFN:printenv\nFN:printenv$/)
      expect(stderr).toContain('secure: ~/src/cloned: printenv → secure exec')
    })

    it('a profile moved away: the wrappers go', async () => {
      const {repositories, type} = await givenShell(shell)
      const {stdout, stderr} = await type([`cd ${repositories.allowed}`, exists('printenv'), 'mv .secure.toml profile.toml.old', exists('printenv')])
      expect(stdout).toMatch(/FN:printenv\nNOFN:printenv$/)
      expect(stderr).toContain('secure: left ~/src/project (allowed)')
    })

    it('a profile that appears where there was none (a checkout): the credentials are removed', async () => {
      const {repositories, type} = await givenShell(shell)
      const {stdout, stderr} = await type([`cd ${repositories.plain}`, 'env | grep -c NPM_TOKEN', 'cp ../cloned/.secure.toml .', 'env | grep -c NPM_TOKEN'])
      expect(stdout).toMatch(/1\n0$/)
      expect(stderr).toContain('secure: ~/src/plain: profile NOT ALLOWED')
    })

    it('nothing is started at a prompt where nothing changed, nor for a profile only touched', async () => {
      const {repositories, type, setVariable} = await givenShell(shell)
      // With no Node to start, a start would print an error and the hook's fail-closed line.
      const {stdout, stderr} = await type([`cd ${repositories.allowed}`, setVariable('__secure_node', '/nonexistent'), 'true', 'true', 'touch .secure.toml', 'true', exists('printenv')])
      expect(stdout).toMatch(/FN:printenv$/)
      expect(stderr).not.toMatch(/could not work out|No such file|Unknown command/)
      expect(stderr.match(/printenv → secure exec/g)).toHaveLength(1)
    })
  })

  describe('the activation cache', () => {
    it('enters a directory seen before without Node', async () => {
      const {repositories, type, setVariable} = await givenShell(shell)
      const {stdout, stderr} = await type([`cd ${repositories.allowed}`, `cd ${repositories.plain}`, setVariable('__secure_node', '/nonexistent'), `cd ${repositories.allowed}`, exists('printenv')])
      expect(stdout).toMatch(/FN:printenv$/)
      expect(stderr).not.toMatch(/could not work out|No such file|Unknown command/)
      expect(stderr.match(/secure: ~\/src\/project: printenv → secure exec/g)).toHaveLength(2)
    })

    it('removes the credentials the shell holds now when it serves a profile that is not allowed', async () => {
      const {repositories, type, setVariable, exportVariable} = await givenShell(shell)
      const {stdout, stderr} = await type([
        `cd ${repositories.cloned}`,
        `cd ${repositories.plain}`,
        exportVariable('NPM_TOKEN', 'npm_exportedAgain000'),
        exportVariable('TWINE_PASSWORD', 'pypi_exportedToo000'),
        setVariable('__secure_node', '/nonexistent'),
        `cd ${repositories.cloned} && env | grep -c -e NPM_TOKEN -e TWINE_PASSWORD`,
      ])
      expect(stdout).toMatch(/0$/)
      expect(stderr).not.toMatch(/could not work out|No such file|Unknown command/)
      expect(stderr).toMatch(/profile NOT ALLOWED[^\n]*; removed (NPM_TOKEN, TWINE_PASSWORD|TWINE_PASSWORD, NPM_TOKEN) from this shell/)
    })

    it('is not used for a profile whose bytes changed, even with its size and time put back', async () => {
      const {repositories, type} = await givenShell(shell)
      const profile = join(repositories.allowed, '.secure.toml')
      const first = await type([`cd ${repositories.allowed}`])
      expect(first.stderr).toContain('printenv → secure exec')
      const before = await stat(profile)
      await writeFile(profile, (await readFile(profile, 'utf8')).replace('printenv', 'printenX'))
      await utimes(profile, before.atime, before.mtime)
      expect((await stat(profile)).size).toBe(before.size)
      const {stdout, stderr} = await type([`cd ${repositories.allowed} && env | grep -c NPM_TOKEN`, exists('printenv'), exists('printenX')])
      expect(stdout).toMatch(/0\nNOFN:printenv\nNOFN:printenX$/)
      expect(stderr).toContain('secure: ~/src/project: profile NOT ALLOWED')
    })
  })

  it('a cd function of your own keeps working, and the hook still acts on the same line', async () => {
    const userCd = shell === 'fish' ? "function cd; echo user-cd >&2; builtin cd $argv; end" : "cd() { echo user-cd >&2; builtin cd \"$@\"; }"
    const {repositories, type} = await givenShell(shell, {before: userCd})
    const {stdout, stderr} = await type([`cd ${repositories.cloned} && env | grep -c NPM_TOKEN`])
    expect(stdout).toMatch(/^0$/)
    expect(stderr).toMatch(/user-cd[\s\S]*profile NOT ALLOWED/)
  })

  it('removes exactly the variables secure exec counts as credentials, and keeps the SSH agent', async () => {
    const names = [
      'NPM_TOKEN', 'npm_token', 'GITHUB_TOKEN', 'TOKENIZER', 'MY_TOKEN_FILE', 'CLIENT_SECRET', 'MYSECRET', 'SECRETARY', 'PGPASSWORD', 'TWINE_PASSWD',
      'OPENAI_API_KEY', 'APIKEY', 'MY_APIKEY', 'KEYBOARD', 'AWS_PROFILE', 'OP_SESSION_me', 'GH_PAT', 'PATRICK', 'XAUTHORITY', 'MY_AUTH',
      'GOOGLE_APPLICATION_CREDENTIALS', 'npm_config__auth', 'NPM_CONFIG_REGISTRY', 'SSH_AUTH_SOCK', 'EDITOR',
    ]
    const {repositories, type, exportVariable} = await givenShell(shell)
    const {stdout} = await type([...names.map((name) => exportVariable(name, 'x')), `cd ${repositories.cloned}`, `env | cut -d= -f1 | grep -x -e ${names.join(' -e ')} | sort`])
    const expected = names.filter((name) => name === 'SSH_AUTH_SOCK' || !isAmbientCredential(name)).sort()
    expect(stdout.split('\n').filter((line) => names.includes(line))).toEqual(expected)
  })
})

describe.runIf(shells.includes('bash'))('the bash hook', () => {
  it('uses nothing newer than bash 3.2 has (macOS): no associative arrays, mapfile, ${x,,}, nameref, coproc or $BASHPID', async () => {
    const {hookCode} = await givenShell('bash')
    for (const newer of ['declare -A', 'mapfile', 'readarray', ',,}', '^^}', 'declare -n', 'local -n', 'coproc', '|&', '&>>', '[[ -v', 'BASHPID', 'EPOCHREALTIME', '@Q}', '@a}']) {
      expect(hookCode).not.toContain(newer)
    }
  })

  it('chains to cd and pushd functions of your own, defined before the hook or after it, and stays one chain when read again', async () => {
    const {repositories, type, hookFile} = await givenShell('bash', {
      before: 'cd() { echo user-cd >&2; builtin cd "$@"; }',
      after: 'pushd() { echo user-pushd >&2; builtin pushd "$@"; }',
    })
    const {stdout, stderr} = await type([
      `cd ${repositories.cloned} && env | grep -c NPM_TOKEN`,
      `pushd ${repositories.allowed} >/dev/null && typeset -f printenv >/dev/null && echo FN:printenv`,
      `. ${hookFile}`,
      `cd ${repositories.plain} && echo back`,
    ])
    expect(stdout).toMatch(/^0\nFN:printenv\nback$/)
    expect(stderr.match(/user-cd/g)).toHaveLength(2)
    expect(stderr.match(/user-pushd/g)).toHaveLength(1)
    expect(stderr).toMatch(/user-cd[\s\S]*NOT ALLOWED[\s\S]*user-pushd[\s\S]*printenv → secure exec[\s\S]*user-cd/)
  })

  it('acts in a subshell too, and leaves the shell it came from as it was', async () => {
    const {repositories, type} = await givenShell('bash')
    const {stdout} = await type([`(cd ${repositories.cloned} && env | grep -c NPM_TOKEN)`, 'env | grep -c NPM_TOKEN'])
    expect(stdout).toMatch(/^0\n1$/)
  })
})

describe.runIf(shells.includes('fish'))('the fish hook', () => {
  it('hides a universal credential in this session without erasing it from the others', async () => {
    const {repositories, type} = await givenShell('fish')
    const {stdout} = await type(['set -Ux UNIVERSAL_TOKEN kept', `cd ${repositories.cloned}`, 'env | grep UNIVERSAL_TOKEN; set -S UNIVERSAL_TOKEN | grep -c "universal scope, exported"'])
    expect(stdout).toMatch(/^UNIVERSAL_TOKEN=\n1$/)
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
