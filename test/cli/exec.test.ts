import {once} from 'node:events'
import {createHash} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {findFilesContaining, givenCliWorkspace, startCli, tmpdir} from '../helpers/cli.js'

const projectRoot = fileURLToPath(new URL('../..', import.meta.url))
const showEnv = fileURLToPath(new URL('../fixtures/bin/show-env.js', import.meta.url))
const waitForSignal = fileURLToPath(new URL('../fixtures/bin/wait-for-signal.js', import.meta.url))
// The values the op double serves for these references (test/fixtures/op-vault.json).
const NPM_TOKEN = 'npm_FAKE0token0for0tests0only0000000'
const GITHUB_PASSWORD = 'ghp_FAKE0github0token0for0tests00000'
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

const PROFILE = `[secrets]
NPM_TOKEN = "op://Private/npm/credential"
GH_TOKEN = "op://Private/GitHub/password"

[commands.node]
secrets = ["NPM_TOKEN"]
`

async function givenAllowedRepository(profile = PROFILE) {
  const workspace = await givenCliWorkspace()
  await writeFile(join(workspace.repository, '.secure.toml'), profile)
  const allowed = await workspace.run(['allow'])
  expect(allowed.exitCode).toBe(0)
  return workspace
}

describe('secure exec, end to end through the op CLI provider', () => {
  it('hands the command its secret for as long as it runs, and nothing of it stays behind', async () => {
    // Given an allowed profile and a shell holding an ambient GITHUB_TOKEN
    const startedAt = Date.now() - 1000
    const workspace = await givenAllowedRepository()
    // When a command runs through secure exec
    const result = await workspace.run(['exec', '--', process.execPath, showEnv, 'NPM_TOKEN', 'GH_TOKEN', 'GITHUB_TOKEN', '--print-values'])
    // Then it received exactly the secret its rule names, and printed it masked
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(`NPM_TOKEN sha256=${sha256(NPM_TOKEN)}`)
    expect(result.stdout).toContain('GH_TOKEN unset')
    expect(result.stdout).toContain('GITHUB_TOKEN unset')
    expect(result.stdout).toContain('VALUE NPM_TOKEN=<concealed by secure>')
    expect(result.stdout + result.stderr).not.toContain(NPM_TOKEN)
    expect(result.stderr).toBe(`secure: NPM_TOKEN for ${process.execPath} from ~/src/project/.secure.toml; removed ambient GITHUB_TOKEN, OP_DOUBLE_CALLS, OP_DOUBLE_VAULT\nSTDERR NPM_TOKEN=<concealed by secure>\nSTDERR GH_TOKEN=undefined\nSTDERR GITHUB_TOKEN=undefined`)
    // And 1Password was asked once, with the secret never in any argv
    const calls = await workspace.op.calls()
    expect(calls.map((argv) => argv[0])).toEqual(['inject'])
    expect(JSON.stringify(calls)).not.toContain(NPM_TOKEN)
    // And no file in the home, the state dirs or the temp dir holds the secret
    // (The double's own vault aside, and this checkout, whose test sources and caches hold the fake value.)
    const leaks = await findFilesContaining([workspace.root, tmpdir()], NPM_TOKEN, startedAt, [dirname(workspace.op.callsFile), projectRoot])
    expect(leaks).toEqual([])
    expect(await readFile(join(workspace.home, '.local', 'state', 'secure', 'audit.jsonl'), 'utf8')).toContain('op://Private/npm/credential')
  })

  it('passes the command\'s exit code through, and exits 127 for a missing command', async () => {
    const workspace = await givenAllowedRepository()
    expect((await workspace.run(['exec', '--', 'sh', '-c', 'exit 42'])).exitCode).toBe(42)
    const missing = await workspace.run(['exec', '--', 'no-such-command'])
    expect(missing.exitCode).toBe(127)
    expect(missing.stderr).toMatch(/secure: error: command not found: no-such-command\nhint: /)
  })

  it('gives everything after -- to the command, flags included', async () => {
    const workspace = await givenAllowedRepository()
    const result = await workspace.run(['exec', '--quiet', '--', 'sh', '-c', 'echo "$@"', 'sh', '--only', '--', 'x'])
    expect(result.stdout).toBe('--only -- x')
  })

  it('refuses a profile edited since it was allowed, with one line and exit 77', async () => {
    const workspace = await givenAllowedRepository()
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE.replace('["NPM_TOKEN"]', '["NPM_TOKEN", "GH_TOKEN"]'))
    const result = await workspace.run(['exec', '--', 'true'])
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toBe('secure: error: ~/src/project/.secure.toml is not allowed (it is new, or changed or moved since it was allowed)\nhint: review it (secure status shows what it asks for), then run secure allow ~/src/project/.secure.toml')
    expect(await workspace.op.calls()).toEqual([])
  })

  it('never starts the command when a secret cannot be resolved', async () => {
    const workspace = await givenAllowedRepository(`[secrets]\nNPM_TOKEN = "op://Private/npm/credential"\nGONE = "op://Private/deleted item/password"\n`)
    const marker = join(workspace.root, 'started')
    const result = await workspace.run(['exec', '--', 'sh', '-c', `touch ${marker}`])
    expect(result.exitCode).toBe(69)
    expect(result.stderr).toMatch(/^secure: error: cannot resolve GONE = op:\/\/Private\/deleted item\/password \(item not found\)\nhint: /)
    await expect(readFile(marker)).rejects.toThrow()
  })

  it('refuses to run inside another secure exec', async () => {
    const workspace = await givenAllowedRepository()
    const result = await workspace.run(['exec', '--', 'true'], {env: {SECURE_EXEC: '~/elsewhere'}})
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toContain('refusing to run secure exec inside another secure exec')
  })

  it.each([
    ['forwards SIGTERM and exits with the code the command chose', [waitForSignal, 'SIGTERM'], 41],
    ['exits 128 + 15 when SIGTERM kills the command', [waitForSignal, 'SIGTERM', '--die'], 143],
  ])('%s', async (_, args, expected) => {
    const workspace = await givenAllowedRepository()
    const running = startCli(workspace, ['exec', '--', process.execPath, ...args])
    // Wait for the child's "ready" (it comes through secure's masked stdout).
    await once(running.stdout!, 'data')
    running.kill('SIGTERM')
    const result = await running
    expect(result.exitCode).toBe(expected)
  })

  it('forwards SIGINT and SIGHUP when not run from a terminal', async () => {
    const workspace = await givenAllowedRepository()
    const running = startCli(workspace, ['exec', '--', process.execPath, waitForSignal, 'SIGHUP'])
    await once(running.stdout!, 'data')
    running.kill('SIGINT')
    await new Promise((resolve) => setTimeout(resolve, 200))
    running.kill('SIGHUP')
    const result = await running
    expect(result.stdout).toContain('got SIGINT')
    expect(result.exitCode).toBe(42)
  })
})

describe('secure exec through the SDK provider (no 1Password reachable here)', () => {
  it('says in one line that there is no service account token, and starts nothing', async () => {
    const workspace = await givenCliWorkspace({config: '[onepassword]\nprovider = "sdk"\n'})
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    await workspace.run(['allow'])
    const result = await workspace.run(['exec', '--', process.execPath, '-e', '0'])
    expect(result.exitCode).toBe(69)
    expect(result.stderr.split('\n')).toEqual([expect.stringMatching(/^secure: error: no 1Password service account token/), expect.stringMatching(/^hint: .*OP_SERVICE_ACCOUNT_TOKEN/)])
  })

  it('says in one line that the token is malformed, without printing it', async () => {
    const workspace = await givenCliWorkspace({config: '[onepassword]\nprovider = "sdk"\n'})
    await writeFile(join(workspace.repository, '.secure.toml'), PROFILE)
    await workspace.run(['allow'])
    const token = 'ops_notARealServiceAccountToken'
    const result = await workspace.run(['exec', '--', process.execPath, '-e', '0'], {env: {OP_SERVICE_ACCOUNT_TOKEN: token}})
    expect(result.exitCode).toBe(69)
    expect(result.stderr).toMatch(/^secure: error: the 1Password service account token is malformed.*\nhint: [^\n]+$/)
    expect(result.stderr).not.toContain(token)
  })
})
