import {lstat, mkdir, readFile, stat, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {readAuditLog} from '../../src/audit/index.js'
import {type FixContext, type FixOptions, fixAmbientCredentials} from '../../src/doctor/fix-credentials.js'
import {EnvironmentError, SecureError} from '../../src/errors.js'
import {type SecurePaths} from '../../src/paths.js'
import {readUserConfig} from '../../src/profile/user-config.js'
import {type CreatedItem, FakeSecretProvider, type NewItem} from '../../src/secrets/provider.js'
import {findFilesContaining} from '../helpers/cli.js'
import {snapshotFiles} from '../helpers/file-tree.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** Every value planted in the home directory: after --fix, only the fake 1Password may hold them. */
const VALUES = {
  npm: 'npm_movedTokenFromNpmrc000000000000',
  pypi: 'pypi-movedTokenFromPypirc0000000000',
  gh: 'gho_movedGithubCliToken0000000000000',
  cargo: 'cio_movedCargoToken00000000000000000',
  awsKeyId: 'AKIAMOVEDKEYID000000',
  awsSecret: 'movedAwsSecretAccessKey0000000000000000',
}

const CONFIG = `# my own config: this comment, and the layout below, must survive
[onepassword]
provider = "op"      # the CLI I already use

[directories."~/src/upstream"]
secrets = {GITHUB_TOKEN = "op://Private/GitHub/token"}
`

const NPMRC = `registry=https://registry.npmjs.org/
; my scope
@me:registry=https://npm.example/
//registry.npmjs.org/:_authToken=${VALUES.npm}
//npm.example/:_authToken=\${NPM_EXAMPLE_TOKEN}
`
const PYPIRC = `[distutils]
index-servers =
    pypi

[pypi]
username = __token__
password = ${VALUES.pypi}
`
// gh 2.40 and later keeps the token twice when it stores it in the file.
const GH_HOSTS = `github.com:
    users:
        octocat:
            oauth_token: ${VALUES.gh}
    git_protocol: https
    oauth_token: ${VALUES.gh}
    user: octocat
`
const CARGO = `[registry]
token = "${VALUES.cargo}"
`
const AWS = `[default]
aws_access_key_id = ${VALUES.awsKeyId}
aws_secret_access_key = ${VALUES.awsSecret}
region = eu-west-1
`

/** A home directory holding one credential of each kind --fix moves, and a config with comments. */
async function givenHome(options: {config?: string} = {}) {
  const root = await makeTempDir()
  const home = join(root, 'home')
  const write = async (path: string, content: string, mode = 0o644) => {
    await mkdir(join(path, '..'), {recursive: true})
    await writeFile(path, content, {mode})
  }
  // ~/.npmrc is a link into a dotfiles checkout, as chezmoi or stow leave it: it must stay one.
  await write(join(home, 'dotfiles', 'npmrc'), NPMRC, 0o600)
  await symlink(join(home, 'dotfiles', 'npmrc'), join(home, '.npmrc'))
  await write(join(home, '.pypirc'), PYPIRC, 0o600)
  await write(join(home, '.config', 'gh', 'hosts.yml'), GH_HOSTS, 0o600)
  await write(join(home, '.cargo', 'credentials.toml'), CARGO)
  await write(join(home, '.aws', 'credentials'), AWS)
  await write(join(home, '.config', 'secure', 'config.toml'), options.config ?? CONFIG)
  await write(join(home, '.bashrc'), 'eval "$(secure hook bash)"\n')
  await mkdir(join(home, 'src', 'project'), {recursive: true})
  const paths: SecurePaths = {
    configFile: join(home, '.config', 'secure', 'config.toml'),
    trustDirectory: join(home, '.local', 'share', 'secure'),
    auditLog: join(home, '.local', 'state', 'secure', 'audit.jsonl'),
    watchState: join(home, '.local', 'state', 'secure', 'watch.json'),
    cacheDirectory: join(home, '.cache', 'secure'),
    home,
  }
  return {home, paths}
}

type Home = Awaited<ReturnType<typeof givenHome>>

/** The context a terminal-less run gets, printing into `printed`. */
function contextFor(home: Home, provider: FakeSecretProvider, overrides: Partial<FixContext> = {}) {
  const printed: string[] = []
  const context: FixContext = {
    cwd: join(home.home, 'src', 'project'),
    configHome: join(home.home, '.config'),
    environment: {},
    paths: home.paths,
    createProvider: async () => provider,
    audit: {now: () => new Date('2026-03-04T05:06:07Z'), user: 'me', host: 'laptop'},
    interactive: false,
    confirm: async () => {
      throw new Error('no terminal')
    },
    ask: async () => {
      throw new Error('no terminal')
    },
    print: (text) => printed.push(text),
    ...overrides,
  }
  return {context, printed}
}

async function fix(home: Home, provider: FakeSecretProvider, options: Partial<FixOptions> = {}, overrides: Partial<FixContext> = {}) {
  const {context, printed} = contextFor(home, provider, overrides)
  const outcome = await fixAmbientCredentials({vault: 'Private', yes: true, ...options}, context).then(
    (exitCode) => ({exitCode, error: undefined}),
    (error: unknown) => ({exitCode: undefined, error: error as SecureError}),
  )
  return {...outcome, printed: printed.join('\n')}
}

/** Every file under the home directory but the audit log, which a failed run writes to. */
const snapshot = (directory: string) => snapshotFiles(directory, ['.local/state'])

async function expectNoValueOnDisk(home: string, printed: string) {
  for (const value of Object.values(VALUES)) {
    expect(printed).not.toContain(value)
    expect(await findFilesContaining([home], value, 0)).toEqual([])
  }
}

const COMMENT = '# moved into 1Password by secure doctor --fix on 2026-03-04: secure exec gives it to'

describe('secure doctor --fix', () => {
  it('moves each kind into 1Password, takes it out of its file, and gives the config the references', async () => {
    const home = await givenHome()
    const provider = new FakeSecretProvider(new Map())

    const {exitCode, error, printed} = await fix(home, provider)

    expect(error).toBeUndefined()
    expect(exitCode).toBe(0)
    // In 1Password, each as its own item in the chosen vault.
    expect(provider.createdItems.map((item) => [item.title, item.secret, item.details ?? []])).toEqual([
      ['npm token for registry.npmjs.org', VALUES.npm, []],
      ['PyPI token for [pypi]', VALUES.pypi, []],
      ['GitHub CLI token for github.com (octocat)', VALUES.gh, []],
      ['crates.io token', VALUES.cargo, []],
      ['AWS access key (default profile)', VALUES.awsSecret, [{label: 'access key id', value: VALUES.awsKeyId}]],
    ])
    expect(new Set(provider.createdItems.map((item) => item.vaultId))).toEqual(new Set(['fakevaultprivate0000000000']))

    // Out of the files: each entry is a comment now, everything else is as it was.
    expect(await readFile(join(home.home, '.npmrc'), 'utf8')).toBe(NPMRC.replace(`//registry.npmjs.org/:_authToken=${VALUES.npm}`, `${COMMENT} npm (see ~/.config/secure/config.toml)`))
    expect(await readFile(join(home.home, '.pypirc'), 'utf8')).toBe(PYPIRC.replace(`password = ${VALUES.pypi}`, `${COMMENT} twine (see ~/.config/secure/config.toml)`))
    expect(await readFile(join(home.home, '.config', 'gh', 'hosts.yml'), 'utf8')).toBe(
      `github.com:\n    users:\n        octocat:\n            ${COMMENT} gh (see ~/.config/secure/config.toml)\n    git_protocol: https\n    user: octocat\n`,
    )
    expect(await readFile(join(home.home, '.cargo', 'credentials.toml'), 'utf8')).toBe(`[registry]\n${COMMENT} cargo (see ~/.config/secure/config.toml)\n`)
    expect(await readFile(join(home.home, '.aws', 'credentials'), 'utf8')).toBe(`[default]\n${COMMENT} aws (see ~/.config/secure/config.toml)\nregion = eu-west-1\n`)
    // The link into the dotfiles checkout is still a link; modes are kept.
    expect((await lstat(join(home.home, '.npmrc'))).isSymbolicLink()).toBe(true)
    expect((await stat(join(home.home, 'dotfiles', 'npmrc'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(home.home, '.aws', 'credentials'))).mode & 0o777).toBe(0o644)

    // The config: what was there, byte for byte, then the references, least privilege, and the hook.
    const config = await readFile(home.paths.configFile, 'utf8')
    expect(config.startsWith(CONFIG)).toBe(true)
    const [npm, pypi, gh, cargo, aws] = provider.createdItems as [NewItem & CreatedItem, ...Array<NewItem & CreatedItem>]
    const entry = (await readUserConfig(home.paths.configFile, home.home)).directories.find((candidate) => candidate.directory === home.home)!
    expect(Object.fromEntries(entry.settings.secrets)).toEqual({
      'npm_config_//registry.npmjs.org/:_authToken': npm.secretReference,
      TWINE_PASSWORD: pypi!.secretReference,
      GH_TOKEN: gh!.secretReference,
      CARGO_REGISTRY_TOKEN: cargo!.secretReference,
      AWS_SECRET_ACCESS_KEY: aws!.secretReference,
      AWS_ACCESS_KEY_ID: aws!.detailReferences[0],
    })
    expect(Object.fromEntries(entry.settings.commands!)).toEqual({
      npm: ['npm_config_//registry.npmjs.org/:_authToken'],
      twine: ['TWINE_PASSWORD'],
      gh: ['GH_TOKEN'],
      cargo: ['CARGO_REGISTRY_TOKEN'],
      aws: ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID'],
    })
    // `npm test` in a fresh clone must not go through secure exec with the token: only npm publish does.
    expect(entry.settings.hook.exec).toEqual(['npm publish', 'twine', 'gh', 'cargo publish', 'aws'])
    // The references hold the values.
    const values = await provider.resolveAll([...entry.settings.secrets.values()])
    expect([...values.values()]).toEqual([VALUES.npm, VALUES.pypi, VALUES.gh, VALUES.cargo, VALUES.awsSecret, VALUES.awsKeyId])

    // The audit log: where from, where to, fingerprints; never a value.
    const [record] = await readAuditLog(home.paths.auditLog)
    expect(record?.event).toBe('doctor.fix')
    expect(record?.details).toMatchObject({
      vault: {id: 'fakevaultprivate0000000000', title: 'Private'},
      moved: expect.arrayContaining([
        {what: 'npm token', file: '~/.npmrc', lines: [4], fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{12}$/), item: 'npm token for registry.npmjs.org', variables: {'npm_config_//registry.npmjs.org/:_authToken': npm.secretReference}, program: 'npm'},
      ]),
    })
    expect(printed).toContain('Moved 5 credentials into 1Password vault "Private"')
    await expectNoValueOnDisk(home.home, printed)
  })

  it('changes no file when 1Password fails to store an item, and names the items it did store', async () => {
    const home = await givenHome()
    const before = await snapshot(home.home)
    const provider = new (class extends FakeSecretProvider {
      override async createItem(item: NewItem): Promise<CreatedItem> {
        if (this.createdItems.length === 2) throw new EnvironmentError('cannot reach 1Password', {code: 'OP_NO_NETWORK', hint: 'check the network connection'})
        return super.createItem(item)
      }
    })(new Map())

    const {error, printed} = await fix(home, provider)

    expect(error?.code).toBe('OP_NO_NETWORK')
    expect(error?.message).toMatch(/^cannot reach 1Password; no file was changed, but 1Password now holds 2 new items: "npm token for registry.npmjs.org" \(op:\/\/.+\), "PyPI token for \[pypi\]" \(op:\/\/.+\)$/)
    expect(await snapshot(home.home)).toEqual(before)
    const [record] = await readAuditLog(home.paths.auditLog)
    expect(record?.event).toBe('doctor.fix.failed')
    const auditLog = await readFile(home.paths.auditLog, 'utf8')
    for (const value of Object.values(VALUES)) expect(printed + error!.message + auditLog).not.toContain(value)
  })

  it('changes no file when 1Password reads back another value than it was given', async () => {
    const home = await givenHome()
    const before = await snapshot(home.home)
    const provider = new (class extends FakeSecretProvider {
      override async resolveAll(references: readonly string[]): Promise<ReadonlyMap<string, string>> {
        const values = new Map(await super.resolveAll(references))
        values.set(references[2]!, 'something else')
        return values
      }
    })(new Map())

    const {error} = await fix(home, provider)

    expect(error?.code).toBe('DOCTOR_READ_BACK_MISMATCH')
    expect(error?.message).toContain('(GitHub CLI token for github.com (octocat))')
    expect(await snapshot(home.home)).toEqual(before)
  })

  it('without a terminal, shows the plan and refuses unless --yes: nothing reaches 1Password', async () => {
    const home = await givenHome()
    const before = await snapshot(home.home)
    const provider = new FakeSecretProvider(new Map())

    const {error, printed} = await fix(home, provider, {yes: false})

    expect(error?.code).toBe('DOCTOR_NOT_CONFIRMED')
    expect(provider.createdItems).toEqual([])
    expect(await snapshot(home.home)).toEqual(before)
    expect(printed).toContain('these 5 credentials move into 1Password vault "Private"')
    expect(printed).toContain('  npm token: ~/.npmrc:4 (//registry.npmjs.org/) [sha256:')
    expect(printed).toContain('      file       ~/.config/gh/hosts.yml: lines 4, 6 become one comment')
    expect(printed).toContain('    "npm_config_//registry.npmjs.org/:_authToken" = "op://<vault>/<new item>/password"')
    for (const value of Object.values(VALUES)) expect(printed).not.toContain(value)
  })

  it('without a terminal and without --vault, refuses before it stores anything', async () => {
    const home = await givenHome()
    const provider = new FakeSecretProvider(new Map(), [], [{id: 'vault1', title: 'Private'}, {id: 'vault2', title: 'Work'}])

    const {error} = await fix(home, provider, {vault: undefined})

    expect(error?.code).toBe('DOCTOR_NO_VAULT')
    expect(error?.hint).toBe('pass --vault NAME (the vaults you can use: Private, Work)')
    expect(provider.createdItems).toEqual([])
  })

  it('on a terminal, asks which vault, then asks before it moves anything', async () => {
    const home = await givenHome()
    const provider = new FakeSecretProvider(new Map(), [], [{id: 'vault1', title: 'Private'}, {id: 'vault2', title: 'Work'}])
    const questions: string[] = []
    const terminal = {
      interactive: true,
      ask: async (question: string) => (questions.push(question), '2'),
      confirm: async (question: string) => (questions.push(question), false),
    }

    const declined = await fix(home, provider, {vault: undefined, yes: false}, terminal)

    expect(questions).toEqual(['Which 1Password vault should hold them?\n  1) Private\n  2) Work\nNumber: ', 'Move these 5 credentials into vault "Work" and change those files?'])
    expect(declined.error?.code).toBe('DOCTOR_DECLINED')
    expect(provider.createdItems).toEqual([])

    const accepted = await fix(home, provider, {vault: undefined, yes: false}, {...terminal, confirm: async () => true})
    expect(accepted.exitCode).toBe(0)
    expect(new Set(provider.createdItems.map((item) => item.vaultId))).toEqual(new Set(['vault2']))
  })

  it('a second run reuses the references a first run left in the config, and creates no item', async () => {
    const home = await givenHome()
    const provider = new FakeSecretProvider(new Map())
    await fix(home, provider)
    // As if the first run had stopped before it rewrote ~/.npmrc.
    await writeFile(join(home.home, 'dotfiles', 'npmrc'), NPMRC)

    const {exitCode, printed} = await fix(home, provider)

    expect(exitCode).toBe(0)
    expect(provider.createdItems).toHaveLength(5)
    expect(printed).toMatch(/1Password {2}already in 1Password at op:\/\/fakevaultprivate0000000000\/\w+\/password \(your config has it\)/)
    expect(await readFile(join(home.home, '.npmrc'), 'utf8')).not.toContain(VALUES.npm)
  })

  it('does not overwrite a file someone changed meanwhile, and a second run finishes the move', async () => {
    const home = await givenHome()
    const awsFile = join(home.home, '.aws', 'credentials')
    const provider = new (class extends FakeSecretProvider {
      override async createItem(item: NewItem): Promise<CreatedItem> {
        // `aws configure set` while the items are being stored.
        if (this.createdItems.length === 0) await writeFile(awsFile, `${AWS}output = json\n`)
        return super.createItem(item)
      }
    })(new Map())

    const first = await fix(home, provider)

    expect(first.error?.code).toBe('DOCTOR_FILE_CHANGED')
    expect(first.error?.message).toMatch(/^~\/\.aws\/credentials changed while secure doctor --fix was running \(already changed: ~\/\.config\/secure\/config\.toml, ~\/\.npmrc, /)
    expect(await readFile(awsFile, 'utf8')).toBe(`${AWS}output = json\n`)

    const second = await fix(home, provider)

    expect(second.exitCode).toBe(0)
    expect(provider.createdItems).toHaveLength(5)
    expect(await readFile(awsFile, 'utf8')).toBe(`[default]\n${COMMENT} aws (see ~/.config/secure/config.toml)\nregion = eu-west-1\noutput = json\n`)
  })

  it('refuses, before 1Password stores anything, when the config gives a variable with another value', async () => {
    const config = `${CONFIG}\n[directories."~".secrets]\nGH_TOKEN = "op://Private/old-gh/password"\n\n[directories."~".commands.gh]\nsecrets = ["GH_TOKEN"]\n`
    const home = await givenHome({config})
    const before = await snapshot(home.home)
    const provider = new FakeSecretProvider(new Map([['op://Private/old-gh/password', 'gho_anOlderToken']]))

    const {error} = await fix(home, provider)

    expect(error?.code).toBe('DOCTOR_CONFIG_CONFLICT')
    expect(error?.message).toBe('~/.config/secure/config.toml already gives GH_TOKEN, from 1Password, with a value other than ~/.config/gh/hosts.yml holds')
    expect(provider.createdItems).toEqual([])
    expect(await snapshot(home.home)).toEqual(before)
  })

  it('refuses a config it cannot add to without rewriting it, before 1Password stores anything', async () => {
    const config = `${CONFIG}\n[directories."~"]\nsecrets = {DEPLOY_KEY = "op://Private/deploy/key"}\n\n[directories."~".commands.deploy]\nsecrets = ["DEPLOY_KEY"]\n`
    const home = await givenHome({config})
    const provider = new FakeSecretProvider(new Map())

    const {error} = await fix(home, provider)

    expect(error?.code).toBe('DOCTOR_CONFIG_UNEDITABLE')
    expect(error?.hint).toContain('[directories."~".secrets]')
    expect(provider.createdItems).toEqual([])
  })

  it('leaves what it cannot move, and says why', async () => {
    const home = await givenHome()
    await writeFile(join(home.home, '.pypirc'), `${PYPIRC}\n[testpypi]\nusername = __token__\npassword = pypi-secondTokenForTestPypi00000\n`)
    await writeFile(join(home.home, '.aws', 'credentials'), `${AWS}\n[work]\naws_access_key_id = AKIAWORK000000000000\naws_secret_access_key = workSecretKey00000000000000000000\n`)
    await writeFile(join(home.home, '.netrc'), 'machine api.example.com login me password netrcPassword0000\n')
    const provider = new FakeSecretProvider(new Map())

    const {exitCode, printed} = await fix(home, provider)

    expect(printed).toContain('not moved: twine takes one TWINE_PASSWORD for every repository, and this file has a password for several')
    expect(printed).toContain('not moved: only [default] is moved: the variables would apply to every command that names no profile')
    expect(printed).toMatch(/HIGH {4}netrc password: ~\/\.netrc:1 \(api\.example\.com\)/)
    expect(provider.createdItems.map((item) => item.title)).not.toContain('PyPI token for [pypi]')
    expect(await readFile(join(home.home, '.pypirc'), 'utf8')).toContain('pypi-secondTokenForTestPypi00000')
    expect(await readFile(join(home.home, '.aws', 'credentials'), 'utf8')).toContain('aws_secret_access_key = workSecretKey')
    expect(await readFile(join(home.home, '.aws', 'credentials'), 'utf8')).not.toContain(VALUES.awsSecret)
    // High-severity findings remain: the exit code says so, as secure doctor's does.
    expect(exitCode).toBe(1)
  })
})
