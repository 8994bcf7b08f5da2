import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {execa} from 'execa'

import {cliEntry, givenCliWorkspace} from '../helpers/cli.js'

const PROFILE = `[secrets]
NPM_TOKEN = "op://Private/npm/credential"
TWINE_PASSWORD = "op://Private/PyPI/token"

[commands.twine]
secrets = ["TWINE_PASSWORD"]
`

describe('secure init, allow, deny and status', () => {
  it('init writes the commented starter profile, which is inert until allowed, and refuses to overwrite it', async () => {
    const workspace = await givenCliWorkspace()
    const first = await workspace.run(['init'])
    expect(first.exitCode).toBe(0)
    expect(await readFile(join(workspace.repository, '.secure.toml'), 'utf8')).toContain('[secrets]\n# NPM_TOKEN = "op://Private/npm/token"')
    const second = await workspace.run(['init'])
    expect(second.exitCode).toBe(2)
    expect(second.stderr).toMatch(/^secure: error: .*\.secure\.toml already exists\nhint: edit it, or run secure init --force/)
  })

  it('status shows what an unallowed profile asks for, and that it is not allowed', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    const result = await workspace.run(['status'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('profile     ~/src/project/.secure.toml (repository, NOT ALLOWED')
    expect(result.stdout).toContain('NPM_TOKEN       op://Private/npm/credential  (.secure.toml)')
    expect(result.stdout).toContain('commands    twine: TWINE_PASSWORD; others: none')
    expect(result.stdout).toContain('ambient     secure exec removes GITHUB_TOKEN')
  })

  it('status --json is JSON only, with the trust state and references but no values', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    await workspace.run(['allow'])
    const result = await workspace.run(['status', '--json'])
    const status = JSON.parse(result.stdout)
    expect(status).toMatchObject({
      source: {kind: 'repository', trust: 'allowed'},
      active: true,
      secrets: [
        {name: 'NPM_TOKEN', references: ['op://Private/npm/credential'], problem: null},
        {name: 'TWINE_PASSWORD', references: ['op://Private/PyPI/token'], problem: null},
      ],
      commands: {twine: ['TWINE_PASSWORD']},
    })
    expect(result.stdout).not.toContain('npm_FAKE0token')
  })

  it('allow names what it allows; an edit makes it inert; deny blocks it whatever it contains', async () => {
    const workspace = await givenCliWorkspace()
    const file = join(workspace.repository, '.secure.toml')
    await writeFile(file, PROFILE)
    const allowed = await workspace.run(['allow'])
    expect(allowed.stderr).toBe('secure: allowed ~/src/project/.secure.toml: NPM_TOKEN, TWINE_PASSWORD; twine: TWINE_PASSWORD')
    await writeFile(file, `${PROFILE}\n# a comment is an edit too\n`)
    expect(JSON.parse((await workspace.run(['status', '--json'])).stdout).source.trust).toBe('not-allowed')
    const denied = await workspace.run(['deny', workspace.repository])
    expect(denied.exitCode).toBe(0)
    const status = JSON.parse((await workspace.run(['status', '--json'])).stdout)
    expect(status.source).toEqual({kind: 'none'})
    expect(status.notes).toEqual(['ignoring ~/src/project/.secure.toml: denied (secure allow lifts it)'])
  })

  it('refuses to allow a profile that sets a variable which loads code', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.repository, '.secure.toml'), '[secrets]\nNODE_OPTIONS = "--require /tmp/x.js"\n')
    const allowed = await workspace.run(['allow'])
    expect(allowed.exitCode).toBe(77)
    expect(allowed.stderr).toMatch(/^secure: error: refused: NODE_OPTIONS changes which code programs load or run \(.secure.toml\)\nhint: /)
    const result = await workspace.run(['exec', '--', 'true'])
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toContain('is not allowed, and cannot be: refused: NODE_OPTIONS changes which code programs load or run')
  })

  it('allow without a profile anywhere says what to do', async () => {
    const workspace = await givenCliWorkspace()
    const result = await workspace.run(['allow'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe('secure: error: no .secure.toml here or in any parent directory\nhint: secure init writes one; or name the file: secure allow PATH')
  })
})

describe('secure log', () => {
  it('shows the records, and log verify finds a record that was edited', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    await workspace.run(['allow'])
    await workspace.run(['exec', '--', 'sh', '-c', 'true'])
    const log = await workspace.run(['log', '--json'])
    const records = JSON.parse(log.stdout)
    expect(records.map((record: {event: string}) => record.event)).toEqual(['profile.allow', 'exec.start', 'exec.end'])
    expect((await workspace.run(['log', 'verify'])).stdout).toBe('audit log intact: 3 records')

    const logFile = join(workspace.home, '.local', 'state', 'secure', 'audit.jsonl')
    const lines = (await readFile(logFile, 'utf8')).split('\n')
    lines[1] = lines[1]!.replace('"cwd":"', '"cwd":"/somewhere/else')
    await writeFile(logFile, lines.join('\n'))
    const verify = await workspace.run(['log', 'verify'])
    expect(verify.exitCode).toBe(1)
    expect(verify.stdout).toContain('record 2 (line 2) was edited')
  })
})

describe('bad input', () => {
  it.each([
    [['exec'], 2, 'secure: error: no command given'],
    [['exec', '--bogus', '--', 'true'], 2, 'secure: error: Nonexistent flag: --bogus'],
    [['status', 'extra'], 2, 'secure: error: command status:extra not found'],
    [['allow', 'a', 'b'], 2, 'secure: error: Unexpected argument: b'],
    [['run', '--pids', 'abc', '--', 'true'], 2, 'secure: error: Parsing --pids: Expected an integer but received: abc'],
  ])('secure %j exits %i with one line and a hint', async (args, code, message) => {
    const workspace = await givenCliWorkspace()
    const result = await workspace.run(args)
    expect(result.exitCode).toBe(code)
    const [first, hint, ...rest] = result.stderr.split('\n')
    expect(first).toBe(message)
    expect(hint).toMatch(/^hint: /)
    expect(rest).toEqual([])
  })

  it('reports a broken config file by name', async () => {
    const workspace = await givenCliWorkspace({config: '[onepassword\n'})
    const result = await workspace.run(['status'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/^secure: error: .*config\.toml: not valid TOML: .*\nhint: /)
  })

  it('reports errors as JSON under --json', async () => {
    const workspace = await givenCliWorkspace({config: '[onepassword]\nauth = "magic"\n'})
    const result = await workspace.run(['status', '--json'])
    expect(result.exitCode).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({error: {code: 'CONFIG_INVALID', message: expect.stringContaining('onepassword.auth'), hint: expect.any(String)}})
  })

  it('allow ignores whatever is piped to it (a shell reading commands from the same input)', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    const result = await execa(process.execPath, [cliEntry, 'allow'], {cwd: workspace.repository, env: workspace.environment, extendEnv: false, reject: false, input: '/etc\n'})
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toContain('.secure.toml')
    expect(result.stderr).not.toContain('/etc')
  })
})
