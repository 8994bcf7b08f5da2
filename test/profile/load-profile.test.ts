import {mkdir, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {type LoadProfileOptions, loadProfile, selectSecretNames} from '../../src/profile/load-profile.js'
import {allowProfile, denyProfile} from '../../src/profile/trust-decisions.js'
import {TrustStore} from '../../src/profile/trust-store.js'
import {type UserConfig, readUserConfig} from '../../src/profile/user-config.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const noUserConfig: UserConfig = {
  onePassword: {provider: 'sdk', auth: 'service-account', account: undefined, opPath: undefined},
  directoryItems: undefined,
  directories: [],
  sandbox: {},
  watch: {npm: [], pypi: [], crates: [], provenance: new Map()},
}

/** A home with a repository inside it, and secure's own state dir. */
async function givenWorkspace() {
  const root = await makeTempDir()
  const home = join(root, 'home')
  const repository = join(home, 'src', 'project')
  const trustDirectory = join(root, 'state')
  await mkdir(join(repository, 'sub'), {recursive: true})
  const options = (overrides: Partial<LoadProfileOptions> = {}): LoadProfileOptions => ({
    cwd: join(repository, 'sub'),
    home,
    userConfig: noUserConfig,
    userConfigFile: join(root, 'config.toml'),
    trustStore: new TrustStore(trustDirectory),
    lookupVariable: (name) => ({VAULT: 'Work'})[name],
    ...overrides,
  })
  const writeProfile = (text: string, directory = repository) => writeFile(join(directory, '.secure.toml'), text)
  const allow = (directory = repository) => allowProfile(directory, directory, trustDirectory, () => undefined)
  return {root, home, repository, trustDirectory, options, writeProfile, allow}
}

const PROFILE = `
[secrets]
NPM_TOKEN = "op://Private/npm/token"
TWINE_PASSWORD = "op://Private/PyPI/token"

[commands.twine]
secrets = ["TWINE_PASSWORD"]
`

describe('loadProfile', () => {
  it('finds no profile outside any repository or config entry', async () => {
    const {options} = await givenWorkspace()
    const profile = await loadProfile(options())
    expect(profile.source).toEqual({kind: 'none'})
    expect(profile.secrets.size).toBe(0)
  })

  describe('trust', () => {
    it('keeps a repository profile inert until it is allowed', async () => {
      // Given a freshly cloned repository with a profile
      const {options, writeProfile, repository} = await givenWorkspace()
      await writeProfile(PROFILE)
      // When it is loaded from a subdirectory
      const profile = await loadProfile(options())
      // Then it is found, but gives nothing
      expect(profile.source).toMatchObject({kind: 'repository', file: join(repository, '.secure.toml'), trust: 'not-allowed'})
      expect(profile.secrets.size).toBe(0)
    })

    it('gives the secrets once allowed', async () => {
      const {options, writeProfile, allow} = await givenWorkspace()
      await writeProfile(PROFILE)
      await allow()
      const profile = await loadProfile(options())
      expect(profile.source).toMatchObject({kind: 'repository', trust: 'allowed'})
      expect([...profile.secrets.keys()]).toEqual(['NPM_TOKEN', 'TWINE_PASSWORD'])
      expect(profile.secrets.get('NPM_TOKEN')!.template.references).toEqual(['op://Private/npm/token'])
    })

    it('makes an allowed profile inert again when it is edited', async () => {
      const {options, writeProfile, allow} = await givenWorkspace()
      await writeProfile(PROFILE)
      await allow()
      await writeProfile(PROFILE.replace('op://Private/PyPI/token', 'op://Private/AWS/secret'))
      const profile = await loadProfile(options())
      expect(profile.source).toMatchObject({trust: 'not-allowed'})
      expect(profile.secrets.size).toBe(0)
    })

    it('makes an allowed profile inert again when an env file it reads is edited', async () => {
      const {options, writeProfile, allow, repository} = await givenWorkspace()
      await writeProfile('env_files = [".env.op"]')
      await writeFile(join(repository, '.env.op'), 'NPM_TOKEN=op://Private/npm/token\n')
      await allow()
      expect((await loadProfile(options())).secrets.size).toBe(1)
      await writeFile(join(repository, '.env.op'), 'NPM_TOKEN=op://Private/npm/token\nAWS_SECRET_ACCESS_KEY=op://Private/aws/secret\n')
      expect((await loadProfile(options())).source).toMatchObject({trust: 'not-allowed'})
    })

    it('makes an allowed profile inert again when the repository is moved', async () => {
      const {options, writeProfile, allow, repository, home} = await givenWorkspace()
      await writeProfile(PROFILE)
      await allow()
      const moved = join(home, 'src', 'moved')
      await rename(repository, moved)
      const profile = await loadProfile(options({cwd: moved}))
      expect(profile.source).toMatchObject({kind: 'repository', file: join(moved, '.secure.toml'), trust: 'not-allowed'})
    })

    it('passes over a denied profile, and allow lifts the deny', async () => {
      const {options, writeProfile, allow, repository, trustDirectory} = await givenWorkspace()
      await writeProfile(PROFILE)
      await allow()
      await denyProfile(repository, repository, trustDirectory, () => undefined)
      const denied = await loadProfile(options())
      expect(denied.source).toEqual({kind: 'none'})
      expect(denied.notes).toEqual([expect.stringContaining('denied')])
      await allow()
      expect((await loadProfile(options())).source).toMatchObject({trust: 'allowed'})
    })

    it('refuses to allow a repository profile that reads an env file outside the repository', async () => {
      const {writeProfile, allow} = await givenWorkspace()
      await writeProfile('env_files = ["../../../.config/secrets.env"]')
      await expect(allow()).rejects.toMatchObject({code: 'PROFILE_ENV_FILE_OUTSIDE'})
    })
  })

  it('refuses every variable that changes how programs load code, naming each', async () => {
    const {writeProfile, allow} = await givenWorkspace()
    await writeProfile('[secrets]\nNODE_OPTIONS = "--require {{ op://a/b/c }}"\nLD_PRELOAD = "op://a/b/c"\nOK = "op://a/b/c"\n')
    await expect(allow()).rejects.toThrow(/NODE_OPTIONS changes which code.*LD_PRELOAD changes which code/)
  })

  it('rejects an unknown setting instead of ignoring it', async () => {
    const {writeProfile, allow} = await givenWorkspace()
    await writeProfile('[secret]\nNPM_TOKEN = "op://a/b/c"\n')
    await expect(allow()).rejects.toMatchObject({code: 'PROFILE_INVALID', message: expect.stringContaining('unknown setting "secret"')})
  })

  it('refuses a [secrets] value that holds no reference: it would be the secret itself, committed', async () => {
    const {writeProfile, allow} = await givenWorkspace()
    await writeProfile('[secrets]\nNPM_TOKEN = "npm_aPlaintextTokenInTheRepository"\n')
    await expect(allow()).rejects.toMatchObject({code: 'PROFILE_INVALID', message: expect.stringContaining('secrets.NPM_TOKEN holds no op:// reference')})
  })

  it('expands $VAR in references from the environment', async () => {
    const {options, writeProfile, allow} = await givenWorkspace()
    await writeProfile('[secrets]\nDB = "op://$VAULT/db/password"\n')
    await allow()
    expect((await loadProfile(options())).secrets.get('DB')!.template.references).toEqual(['op://Work/db/password'])
  })

  it('lets a later env file win over an earlier one and [secrets] win over both', async () => {
    const {options, writeProfile, allow, repository} = await givenWorkspace()
    await writeProfile('env_files = ["a.env", "b.env"]\n[secrets]\nC = "op://v/table/c"\n')
    await writeFile(join(repository, 'a.env'), 'A=op://v/a/a\nB=op://v/a/b\nC=op://v/a/c\n')
    await writeFile(join(repository, 'b.env'), 'B=op://v/b/b\nC=op://v/b/c\n')
    await allow()
    const {secrets} = await loadProfile(options())
    expect(Object.fromEntries([...secrets].map(([name, secret]) => [name, secret.template.references[0]]))).toEqual({A: 'op://v/a/a', B: 'op://v/b/b', C: 'op://v/table/c'})
    expect(secrets.get('B')!.origin).toBe('b.env:1')
  })

  describe('the user config', () => {
    it('applies a [directories] entry without touching the repository, and wins over a repository profile at the same depth', async () => {
      const {root, home, repository, options, writeProfile} = await givenWorkspace()
      await writeProfile(PROFILE)
      const configFile = join(root, 'config.toml')
      await writeFile(configFile, '[directories."~/src/project"]\nsecrets = {GH_TOKEN = "op://Private/GitHub/token"}\n')
      const userConfig = await readUserConfig(configFile, home)
      const profile = await loadProfile(options({userConfig}))
      expect(profile.source).toEqual({kind: 'user-config', file: configFile, directory: repository})
      expect([...profile.secrets.keys()]).toEqual(['GH_TOKEN'])
    })

    it('loses to a deeper repository profile', async () => {
      const {root, home, options, writeProfile, repository} = await givenWorkspace()
      await writeProfile(PROFILE, join(repository, 'sub'))
      const configFile = join(root, 'config.toml')
      await writeFile(configFile, '[directories."~/src"]\nsecrets = {GH_TOKEN = "op://Private/GitHub/token"}\n')
      const profile = await loadProfile(options({userConfig: await readUserConfig(configFile, home)}))
      expect(profile.source).toMatchObject({kind: 'repository', trust: 'not-allowed'})
    })

    it('falls back to the item-per-directory convention, deepest title first', async () => {
      const {options} = await givenWorkspace()
      const profile = await loadProfile(options({userConfig: {...noUserConfig, directoryItems: {vault: 'Environment variables'}}}))
      expect(profile.source).toEqual({kind: 'directory-item', vault: 'Environment variables', titles: ['~/src/project/sub', '~/src/project', '~/src']})
    })

    it('reports a bad setting with the file name', async () => {
      const {root, home} = await givenWorkspace()
      const configFile = join(root, 'config.toml')
      await writeFile(configFile, '[onepassword]\nprovider = "vault"\n')
      await expect(readUserConfig(configFile, home)).rejects.toMatchObject({code: 'CONFIG_INVALID', message: expect.stringContaining(configFile)})
    })
  })
})

describe('selectSecretNames (least privilege)', () => {
  const available = ['NPM_TOKEN', 'TWINE_PASSWORD']

  it('gives every secret when there are no command rules', () => {
    expect(selectSecretNames({commands: undefined}, available, 'npm', [])).toEqual(available)
  })

  it('gives a listed program only its secrets, by program name whatever its path', () => {
    const commands = new Map([['twine', ['TWINE_PASSWORD']]])
    expect(selectSecretNames({commands}, available, '/usr/bin/twine', [])).toEqual(['TWINE_PASSWORD'])
  })

  it('gives an unlisted program nothing unless "*" says otherwise', () => {
    expect(selectSecretNames({commands: new Map([['twine', ['TWINE_PASSWORD']]])}, available, 'npm', [])).toEqual([])
    expect(selectSecretNames({commands: new Map([['*', ['NPM_TOKEN']]])}, available, 'npm', [])).toEqual(['NPM_TOKEN'])
  })

  it('narrows further with --only and refuses a name the command may not have', () => {
    expect(selectSecretNames({commands: undefined}, available, 'npm', ['NPM_TOKEN'])).toEqual(['NPM_TOKEN'])
    expect(() => selectSecretNames({commands: new Map([['npm', ['NPM_TOKEN']]])}, available, 'npm', ['TWINE_PASSWORD'])).toThrow(
      '--only TWINE_PASSWORD: not among the secrets this profile gives to npm (NPM_TOKEN)',
    )
  })
})
