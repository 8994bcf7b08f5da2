import {createHash} from 'node:crypto'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'
import {fileURLToPath} from 'node:url'
import {EventEmitter} from 'node:events'
import {describe, expect, it} from 'vitest'

import {readAuditLog} from '../../src/audit/index.js'
import {MASK_REPLACEMENT} from '../../src/exec/masking.js'
import {type ExecContext, type ExecOptions, runExec} from '../../src/exec/run-exec.js'
import {allowProfile} from '../../src/profile/trust-decisions.js'
import {FakeSecretProvider, type SecretProvider} from '../../src/secrets/provider.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const showEnv = fileURLToPath(new URL('../fixtures/bin/show-env.js', import.meta.url))
const NPM_TOKEN = 'npm_TheRealTokenFrom1Password0001'
const TWINE_PASSWORD = 'pypi-AgEIcHlwaS5vcmcCJGFha2Vfd2l0aF9zZWNyZXQ'
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

async function givenRepository(profile: string, {allow = true} = {}) {
  const root = await makeTempDir()
  const home = join(root, 'home')
  const repository = join(home, 'src', 'project')
  await mkdir(repository, {recursive: true})
  await writeFile(join(repository, '.secure.toml'), profile)
  const paths = {configFile: join(root, 'config', 'secure', 'config.toml'), trustDirectory: join(root, 'data'), auditLog: join(root, 'state', 'audit.jsonl'), watchState: join(root, 'state', 'watch.json'), cacheDirectory: join(root, 'cache'), home}
  if (allow) await allowProfile(repository, repository, paths.trustDirectory, () => undefined)

  const provider = new FakeSecretProvider(
    new Map([
      ['op://Private/npm/token', NPM_TOKEN],
      ['op://Private/PyPI/token', TWINE_PASSWORD],
    ]),
    [{vault: 'Env', title: '~/src/project', fields: [{label: 'vars', value: 'FROM_ITEM=item-secret-value-1\n# comment'}, {label: 'API_KEY', value: 'item-api-key-value-2'}]}],
  )
  let providersCreated = 0
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const output = {stdout: '', stderr: '', notices: [] as string[]}
  stdout.on('data', (chunk) => (output.stdout += chunk))
  stderr.on('data', (chunk) => (output.stderr += chunk))
  const context = (environment: Record<string, string> = {}): ExecContext => ({
    environment: {PATH: process.env.PATH, HOME: home, GITHUB_TOKEN: 'ghp_ambient_should_not_leak', ...environment},
    paths,
    createProvider: async (): Promise<SecretProvider> => {
      providersCreated++
      return provider
    },
    referenceDialect: () => 'sdk',
    audit: {now: () => new Date('2026-11-22T10:00:00Z'), user: 'me', host: 'laptop'},
    stdout,
    stderr,
    interactive: false,
    signals: new EventEmitter(),
    notice: (line) => output.notices.push(line),
  })
  const options = (overrides: Partial<ExecOptions> = {}): ExecOptions => ({
    cwd: repository,
    command: process.execPath,
    args: [showEnv, 'NPM_TOKEN', 'TWINE_PASSWORD', 'GITHUB_TOKEN', '--print-values'],
    only: [],
    mask: undefined,
    envFiles: [],
    sshAgent: undefined,
    quiet: false,
    ...overrides,
  })
  return {root, repository, paths, provider, output, context, options, providersCreated: () => providersCreated}
}

const PROFILE = `[secrets]
NPM_TOKEN = "op://Private/npm/token"
TWINE_PASSWORD = "op://Private/PyPI/token"
`

describe('runExec', () => {
  it('gives the child exactly the profile\'s secrets, resolved in one call, and masks them in its output', async () => {
    // Given an allowed profile with two secrets and an ambient GITHUB_TOKEN in the shell
    const {output, context, options, provider} = await givenRepository(PROFILE)
    // When a command runs through secure exec
    const exitCode = await runExec(options(), context())
    // Then the child saw both secrets and no GITHUB_TOKEN, resolved with one provider call
    expect(exitCode).toBe(0)
    expect(output.stdout).toContain(`NPM_TOKEN sha256=${sha256(NPM_TOKEN)}`)
    expect(output.stdout).toContain(`TWINE_PASSWORD sha256=${sha256(TWINE_PASSWORD)}`)
    expect(output.stdout).toContain('GITHUB_TOKEN unset')
    expect(output.stdout).toMatch(/ENV-NAMES .*SECURE_EXEC/)
    expect(provider.resolveAllCalls).toBe(1)
    // And the values it printed were masked
    expect(output.stdout).toContain(`VALUE NPM_TOKEN=${MASK_REPLACEMENT}`)
    expect(output.stdout + output.stderr).not.toContain(NPM_TOKEN)
    expect(output.stdout + output.stderr).not.toContain(TWINE_PASSWORD)
    expect(output.notices).toEqual([expect.stringMatching(/^secure: NPM_TOKEN, TWINE_PASSWORD for .* removed ambient GITHUB_TOKEN$/)])
  })

  it('records the references, never the values, in the audit log', async () => {
    const {context, options, paths} = await givenRepository(PROFILE)
    await runExec(options(), context())
    const log = await readFile(paths.auditLog, 'utf8')
    expect(log).not.toContain(NPM_TOKEN)
    expect(log).not.toContain(TWINE_PASSWORD)
    const records = await readAuditLog(paths.auditLog)
    expect(records.map((record) => record.event)).toEqual(['exec.start', 'exec.end'])
    expect(records.at(-2)!.details).toMatchObject({secrets: ['NPM_TOKEN', 'TWINE_PASSWORD'], references: ['op://Private/npm/token', 'op://Private/PyPI/token']})
    expect(records.at(-1)!.details).toMatchObject({exitCode: 0})
  })

  it('gives each command only the secrets its rule names, and --only narrows further', async () => {
    const {output, context, options} = await givenRepository(`${PROFILE}\n[commands.node]\nsecrets = ["TWINE_PASSWORD"]\n`)
    await runExec(options(), context())
    expect(output.stdout).toContain('NPM_TOKEN unset')
    expect(output.stdout).toContain(`TWINE_PASSWORD sha256=${sha256(TWINE_PASSWORD)}`)
  })

  it('refuses a profile that is not allowed, before resolving anything', async () => {
    const {context, options, providersCreated} = await givenRepository(PROFILE, {allow: false})
    await expect(runExec(options(), context())).rejects.toMatchObject({code: 'PROFILE_NOT_ALLOWED', exitCode: 77})
    expect(providersCreated()).toBe(0)
  })

  it('never starts the child when a reference does not resolve, and names it', async () => {
    const {output, context, options} = await givenRepository(`${PROFILE}MISSING = "op://Private/gone/password"\n`)
    await expect(runExec(options(), context())).rejects.toThrow('cannot resolve MISSING = op://Private/gone/password (item not found)')
    expect(output.stdout).toBe('')
  })

  it('reports every invalid reference by name before any call to 1Password', async () => {
    const {context, options, providersCreated} = await givenRepository('[secrets]\nA = "op://only/two"\nB = "op://v/i/f?attribute=password"\nC = "op://Private/npm/token"\n')
    await expect(runExec(options(), context())).rejects.toThrow(/^invalid secret references: A \(.secure.toml\): op:\/\/only\/two must be .*; B \(.secure.toml\): op:\/\/v\/i\/f\?attribute=password query/)
    expect(providersCreated()).toBe(0)
  })

  it('runs with no secrets and says so outside any profile, scrubbing ambient credentials all the same', async () => {
    const {output, context, options, root} = await givenRepository(PROFILE)
    // (With nothing to mask the child writes to the real stdout, so it answers with its exit code.)
    const exitCode = await runExec(options({cwd: root, args: ['-e', 'process.exit(process.env.GITHUB_TOKEN === undefined ? 0 : 1)']}), context())
    expect(exitCode).toBe(0)
    expect(output.notices).toEqual([expect.stringMatching(/^secure: no profile here: running .* with no secrets; removed ambient GITHUB_TOKEN$/)])
  })

  it('refuses to nest inside another secure exec', async () => {
    const {context, options} = await givenRepository(PROFILE)
    await expect(runExec(options(), context({SECURE_EXEC: 'none'}))).rejects.toMatchObject({code: 'NESTED_EXEC'})
  })

  it('does not mask with --no-mask', async () => {
    const {output, context, options} = await givenRepository(PROFILE)
    await runExec(options({mask: false, args: ['-e', 'process.stdout.write(String(process.stdout.isTTY))']}), context())
    // Unmasked, the child writes to secure's own stdout (here a pipe, in a terminal the terminal).
    expect(output.stdout).toBe('')
  })

  it('takes the secrets from the item titled with the directory under the item-per-directory convention', async () => {
    const {output, context, options, root, paths} = await givenRepository(PROFILE)
    await mkdir(join(root, 'config', 'secure'), {recursive: true})
    await writeFile(paths.configFile, '[directory_items]\nvault = "Env"\n')
    await writeFile(join(options().cwd, '.secure.toml'), '')
    // The repository profile is removed from the picture by denying it.
    const {denyProfile} = await import('../../src/profile/trust-decisions.js')
    await denyProfile(options().cwd, options().cwd, paths.trustDirectory, () => undefined)
    await runExec(options({args: [showEnv, 'FROM_ITEM', 'API_KEY']}), context())
    expect(output.stdout).toContain(`FROM_ITEM sha256=${sha256('item-secret-value-1')}`)
    expect(output.stdout).toContain(`API_KEY sha256=${sha256('item-api-key-value-2')}`)
  })

  it('masks what came from 1Password, not the literal values of an env file', async () => {
    const {output, context, options, repository, paths} = await givenRepository('env_files = ["app.env"]\n', {allow: false})
    await writeFile(join(repository, 'app.env'), 'APP_ENV=production\nNPM_TOKEN=op://Private/npm/token\n')
    await allowProfile(repository, repository, paths.trustDirectory, () => undefined)
    await runExec(options({args: [showEnv, 'APP_ENV', 'NPM_TOKEN', '--print-values']}), context())
    expect(output.stdout).toContain('VALUE APP_ENV=production')
    expect(output.stdout).toContain(`VALUE NPM_TOKEN=${MASK_REPLACEMENT}`)
  })

  it('returns the child\'s exit code', async () => {
    const {context, options} = await givenRepository(PROFILE)
    expect(await runExec(options({args: ['-e', 'process.exit(9)']}), context())).toBe(9)
  })
})
