import {readFile} from 'node:fs/promises'
import {isAbsolute, resolve} from 'node:path'
import {parse as parseToml} from 'smol-toml'

import {UsageError} from '../errors.js'
import {expandHome} from '../paths.js'
import {type ProfileSettings, isTable, readProfileSettings} from './profile-settings.js'

/** How `secure` reaches 1Password. */
export interface OnePasswordSettings {
  /** `sdk`: the 1Password SDK, built in. `op`: the 1Password CLI, for users who already have it. */
  provider: 'sdk' | 'op'
  /** `service-account`: OP_SERVICE_ACCOUNT_TOKEN. `desktop`: the 1Password app (biometric unlock). */
  auth: 'service-account' | 'desktop'
  /** The account name shown in the 1Password app (desktop auth), or `op --account`. */
  account: string | undefined
  /** The `op` executable (default: `op` on PATH). */
  opPath: string | undefined
}

/** The user's own config file: trusted, unlike a repository's profile. */
export interface UserConfig {
  onePassword: OnePasswordSettings
  /** The item-per-directory convention: items titled `~/path` in this vault hold a directory's secrets. */
  directoryItems: {vault: string} | undefined
  /** Profiles for directories the user does not want to touch, deepest match wins. */
  directories: ReadonlyArray<{directory: string; settings: ProfileSettings}>
  /** `secure run`'s defaults on this machine. */
  sandbox: UserSandboxSettings
  /** What `secure watch` watches. */
  watch: UserWatchSettings
}

/** The user's `[watch]` table: which releases `secure watch` must be able to explain. */
export interface UserWatchSettings {
  /** npm package names. */
  npm: readonly string[]
  /** PyPI project names. */
  pypi: readonly string[]
  /** crates.io crate names. */
  crates: readonly string[]
  /** The npm registry to read (default https://registry.npmjs.org/). */
  npmRegistry?: string
  /** PyPI's JSON API (default https://pypi.org/pypi/). */
  pypiJsonApi?: string
  /** The crates.io web API (default https://crates.io). */
  cratesApi?: string
  /** `[watch.provenance."name"]`: the CI source whose provenance (npm) or trusted publishing (crates.io) explains a version. */
  provenance: ReadonlyMap<string, ExpectedSource>
}

/** A repository and workflow file that may publish a package from CI. */
export interface ExpectedSource {
  /** `https://github.com/owner/repo` (or a GitLab project URL). */
  repository: string
  /** `.github/workflows/release.yml` (or `.gitlab-ci.yml`). */
  workflow: string
}

/** The user's `[sandbox]` table. */
export interface UserSandboxSettings {
  /** The engine to use: unix:///path.sock, tcp://host:2376 or ssh://user@host. */
  engine?: string
  /** The Debian bookworm image secure's sandbox images are built FROM (default debian:bookworm-slim). */
  baseImage?: string
  /** Refuse a rootful engine everywhere. */
  requireRootless?: boolean
  /** Memory limit in MiB, process limit and CPU limit of every sandbox. */
  memory?: number
  pids?: number
  cpus?: number
}

const DEFAULT_ONE_PASSWORD: OnePasswordSettings = {provider: 'sdk', auth: 'service-account', account: undefined, opPath: undefined}

/** Reads the user's config; a missing file is the default config. */
export async function readUserConfig(file: string, home: string): Promise<UserConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {onePassword: DEFAULT_ONE_PASSWORD, directoryItems: undefined, directories: [], sandbox: {}, watch: {npm: [], pypi: [], crates: [], provenance: new Map()}}
    throw error
  }
  const fail = (problem: string) => new UsageError(`${file}: ${problem}`, {code: 'CONFIG_INVALID', hint: 'fix it: the README says what each table holds ("Your own config", and each command\'s section)'})
  let data: Record<string, unknown>
  try {
    data = parseToml(text)
  } catch (error) {
    throw fail(`not valid TOML: ${firstLine(error)}`)
  }
  for (const key of Object.keys(data)) {
    if (!['onepassword', 'directory_items', 'directories', 'sandbox', 'watch'].includes(key)) throw fail(`unknown section "${key}"`)
  }

  const onePassword = {...DEFAULT_ONE_PASSWORD}
  if (data.onepassword !== undefined) {
    const section = data.onepassword
    if (!isTable(section)) throw fail('[onepassword] must be a table')
    for (const [key, value] of Object.entries(section)) {
      if (key === 'provider' && (value === 'sdk' || value === 'op')) onePassword.provider = value
      else if (key === 'auth' && (value === 'service-account' || value === 'desktop')) onePassword.auth = value
      else if (key === 'account' && typeof value === 'string') onePassword.account = value
      else if (key === 'op_path' && typeof value === 'string') onePassword.opPath = expandHome(value, home)
      else throw fail(`onepassword.${key} is not a known setting or has a wrong value (provider = "sdk"|"op", auth = "service-account"|"desktop", account, op_path)`)
    }
  }

  let directoryItems: UserConfig['directoryItems']
  if (data.directory_items !== undefined) {
    const section = data.directory_items
    if (!isTable(section) || typeof section.vault !== 'string' || Object.keys(section).length !== 1) {
      throw fail('[directory_items] must have exactly vault = "Vault name"')
    }
    directoryItems = {vault: section.vault}
  }

  const directories: Array<{directory: string; settings: ProfileSettings}> = []
  if (data.directories !== undefined) {
    if (!isTable(data.directories)) throw fail('[directories."~/path"] entries must be tables')
    for (const [path, entry] of Object.entries(data.directories)) {
      const directory = expandHome(path, home)
      if (!isAbsolute(directory)) throw fail(`directories."${path}" must be an absolute path or start with ~/`)
      if (!isTable(entry)) throw fail(`[directories."${path}"] must be a table`)
      directories.push({directory: resolve(directory), settings: readProfileSettings(entry, `${file} [directories."${path}"]`)})
    }
  }
  return {onePassword, directoryItems, directories, sandbox: readUserSandbox(data.sandbox, fail), watch: readUserWatch(data.watch, fail)}
}

function readUserSandbox(section: unknown, fail: (problem: string) => UsageError): UserSandboxSettings {
  if (section === undefined) return {}
  if (!isTable(section)) throw fail('[sandbox] must be a table')
  const sandbox: UserSandboxSettings = {}
  const positive = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0
  for (const [key, value] of Object.entries(section)) {
    if (key === 'engine' && typeof value === 'string' && value !== '') sandbox.engine = value
    else if (key === 'base_image' && typeof value === 'string' && value !== '') sandbox.baseImage = value
    else if (key === 'require_rootless' && typeof value === 'boolean') sandbox.requireRootless = value
    else if ((key === 'memory' || key === 'pids' || key === 'cpus') && positive(value)) sandbox[key] = value
    else {
      throw fail(`sandbox.${key} is not a known setting or has a wrong value (engine = "unix:///…", base_image = "debian:bookworm-slim", require_rootless = true|false, memory = MiB, pids, cpus)`)
    }
  }
  return sandbox
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!
}

function readUserWatch(section: unknown, fail: (problem: string) => UsageError): UserWatchSettings {
  const watch: {npm: string[]; pypi: string[]; crates: string[]; npmRegistry?: string; pypiJsonApi?: string; cratesApi?: string; provenance: Map<string, ExpectedSource>} = {
    npm: [],
    pypi: [],
    crates: [],
    provenance: new Map(),
  }
  if (section === undefined) return watch
  if (!isTable(section)) throw fail('[watch] must be a table')
  const isUrl = (value: unknown): value is string => typeof value === 'string' && URL.canParse(value)
  for (const [key, value] of Object.entries(section)) {
    if ((key === 'npm' || key === 'pypi' || key === 'crates') && Array.isArray(value) && value.every((name) => typeof name === 'string' && name !== '')) watch[key] = value as string[]
    else if (key === 'npm_registry' && isUrl(value)) watch.npmRegistry = value
    else if (key === 'pypi_json_api' && isUrl(value)) watch.pypiJsonApi = value
    else if (key === 'crates_api' && isUrl(value)) watch.cratesApi = value
    else if (key === 'provenance' && isTable(value)) {
      for (const [name, source] of Object.entries(value)) {
        if (!isTable(source) || !isUrl(source.repository) || typeof source.workflow !== 'string' || source.workflow === '' || Object.keys(source).length !== 2) {
          throw fail(`[watch.provenance."${name}"] must be repository = "https://github.com/owner/repo" and workflow = ".github/workflows/release.yml"`)
        }
        watch.provenance.set(name, {repository: source.repository.replace(/\/+$/, ''), workflow: source.workflow.replace(/^\.?\//, '')})
      }
    } else {
      throw fail(`watch.${key} is not a known setting or has a wrong value (npm = ["name"], pypi = ["name"], crates = ["name"], npm_registry, pypi_json_api, crates_api = "https://…", [watch.provenance."name"])`)
    }
  }
  return watch
}
