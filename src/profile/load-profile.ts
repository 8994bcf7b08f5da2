import {readFile, stat} from 'node:fs/promises'
import {basename, dirname, isAbsolute, join, relative, resolve, sep} from 'node:path'
import {parse as parseToml} from 'smol-toml'

import {PolicyError, SecureError, UsageError} from '../errors.js'
import {type SecurePaths, displayPath, expandHome} from '../paths.js'
import {EnvFileSyntaxError, parseEnvFile} from './env-file.js'
import {type VariableLookup, expandVariables} from './expand-variables.js'
import {findForbiddenVariableReason} from './forbidden-variables.js'
import {type HookProfileSettings, type ProfileSettings, type PublishProfileSettings, type SandboxProfileSettings, readProfileSettings} from './profile-settings.js'
import {type SecretTemplate, parseSecretTemplate} from './secret-template.js'
import {type TrustState, TrustStore, fingerprintProfile} from './trust-store.js'
import {type UserConfig, readUserConfig} from './user-config.js'

/** The file name of a repository's profile. */
export const PROFILE_FILE_NAME = '.secure.toml'

/** Where the profile that applies to a directory comes from. */
export type ProfileSource =
  | {
      kind: 'repository'
      file: string
      directory: string
      trust: TrustState
      problem?: string
      /** What an allow pins (see fingerprintProfile), and the env files it covers; absent when the profile cannot be read. */
      fingerprint?: string
      envFiles?: readonly string[]
    }
  | {kind: 'user-config'; file: string; directory: string}
  | {kind: 'directory-item'; vault: string; titles: readonly string[]}
  | {kind: 'none'}

/** One secret a profile can give: its name, what to resolve, and where it was written. */
export interface ProfileSecret {
  name: string
  template: SecretTemplate
  /** For messages: `.secure.toml`, `.env.op:3`, `--env-file prod.env:7`, or the item title. */
  origin: string
}

/** What applies in a directory, before anything is fetched from 1Password. */
export interface Profile {
  source: ProfileSource
  /** Empty unless the source is trusted. */
  secrets: ReadonlyMap<string, ProfileSecret>
  commands: ReadonlyMap<string, readonly string[]> | undefined
  mask: boolean
  sshAgent: boolean
  /** The `[sandbox]` table; empty unless the source is trusted. */
  sandbox: SandboxProfileSettings
  /** The `[publish]` table; empty unless the source is trusted. */
  publish: PublishProfileSettings
  /** The `[hook]` table; empty unless the source is trusted. */
  hook: HookProfileSettings
  /** Lines for the user about profiles that were passed over, and why. */
  notes: readonly string[]
}

/** What {@link loadProfile} needs; nothing is read from the process itself. */
export interface LoadProfileOptions {
  /** The directory the command runs in. */
  cwd: string
  home: string
  userConfig: UserConfig
  userConfigFile: string
  trustStore: TrustStore
  /** The user's environment, for `$VAR` in references and env files. */
  lookupVariable: VariableLookup
  /** `--env-file` given on the command line: trusted, and read last so they win. */
  extraEnvFiles?: readonly string[]
}

/**
 * Finds the profile for `cwd` and reads it. The deepest of a repository's `.secure.toml` (walking
 * up) and the user's `[directories."…"]` entries wins, the user's on a tie; a denied repository
 * profile is passed over. With neither, the item-per-directory convention applies when configured.
 * A repository profile that is not allowed is returned inert, with no secrets.
 */
export async function loadProfile(options: LoadProfileOptions): Promise<Profile> {
  const notes: string[] = []
  const repository = await findRepositoryProfile(options, notes)
  const userEntry = findUserEntry(options.cwd, options.userConfig)

  let source: ProfileSource = {kind: 'none'}
  let settings: ProfileSettings | undefined
  const sourceSecrets: ProfileSecret[] = []

  if (repository && !(userEntry && userEntry.directory.length >= repository.directory.length)) {
    source = {
      kind: 'repository',
      file: repository.file,
      directory: repository.directory,
      trust: repository.trust,
      problem: repository.problem,
      fingerprint: repository.bundle?.fingerprint,
      envFiles: repository.bundle?.envFiles,
    }
    if (repository.trust === 'allowed' && repository.bundle) {
      settings = repository.bundle.settings
      sourceSecrets.push(...repository.bundle.secrets)
    }
  } else if (userEntry) {
    source = {kind: 'user-config', file: options.userConfigFile, directory: userEntry.directory}
    settings = userEntry.settings
    const bundle = await readSettingsSecrets(userEntry.settings, {
      directory: userEntry.directory,
      label: `${displayPath(options.userConfigFile, options.home)} [directories."${displayPath(userEntry.directory, options.home)}"]`,
      resolveEnvFile: (name) => resolve(userEntry.directory, expandHome(name, options.home)),
      lookupVariable: options.lookupVariable,
    })
    sourceSecrets.push(...bundle.secrets)
  } else if (options.userConfig.directoryItems) {
    source = {kind: 'directory-item', vault: options.userConfig.directoryItems.vault, titles: directoryItemTitles(options.cwd, options.home)}
  }

  const secrets = new Map<string, ProfileSecret>(sourceSecrets.map((secret) => [secret.name, secret]))
  for (const file of options.extraEnvFiles ?? []) {
    for (const secret of await readEnvFileSecrets(file, `--env-file ${displayPath(file, options.home)}`, options.lookupVariable)) {
      secrets.set(secret.name, secret)
    }
  }
  verifyNoForbiddenVariables([...secrets.values()])
  verifyCommandRules(settings, secrets, source)

  return {
    source,
    secrets,
    commands: settings?.commands,
    mask: settings?.mask ?? true,
    sshAgent: settings?.sshAgent ?? false,
    sandbox: settings?.sandbox ?? {},
    publish: settings?.publish ?? {},
    hook: settings?.hook ?? {},
    notes,
  }
}

/**
 * Refuses a repository profile that is not allowed: what every command that hands out a profile's
 * secrets checks first.
 */
export function verifyProfileIsTrusted(profile: Profile, home: string): void {
  const {source} = profile
  if (source.kind !== 'repository' || source.trust === 'allowed') return
  const where = displayPath(source.file, home)
  throw new PolicyError(
    source.problem ? `${where} is not allowed, and cannot be: ${source.problem}` : `${where} is not allowed (it is new, or changed or moved since it was allowed)`,
    {code: 'PROFILE_NOT_ALLOWED', hint: source.problem ? 'fix the profile, review it, then run secure allow' : `review it (secure status shows what it asks for), then run secure allow ${where}`},
  )
}

/**
 * Reads the user's config and loads the profile for `cwd` from secure's own files: what every
 * command that acts on a directory's profile starts with.
 */
export async function loadProfileForDirectory(
  cwd: string,
  paths: Pick<SecurePaths, 'configFile' | 'trustDirectory' | 'home'>,
  environment: Readonly<Record<string, string | undefined>>,
  extraEnvFiles?: readonly string[],
): Promise<{userConfig: UserConfig; profile: Profile}> {
  const userConfig = await readUserConfig(paths.configFile, paths.home)
  const profile = await loadProfile({
    cwd,
    home: paths.home,
    userConfig,
    userConfigFile: paths.configFile,
    trustStore: new TrustStore(paths.trustDirectory),
    lookupVariable: (name) => environment[name],
    extraEnvFiles,
  })
  return {userConfig, profile}
}

/**
 * Reads a repository profile for `secure allow`/`deny`: its settings, secrets and fingerprint.
 * Throws on a profile that cannot be read, so a broken file is never allowed.
 */
export async function readRepositoryProfile(file: string, lookupVariable: VariableLookup): Promise<RepositoryProfileBundle> {
  const directory = dirname(file)
  const content = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${error.code ?? error.message}`, {code: 'PROFILE_UNREADABLE', hint: 'check the path and its permissions'})
  })
  let data: Record<string, unknown>
  try {
    data = parseToml(content.toString('utf8'))
  } catch (error) {
    throw new UsageError(`${file}: not valid TOML: ${String((error as Error).message).split('\n')[0]}`, {
      code: 'PROFILE_INVALID',
      hint: 'fix the profile (secure init writes a commented example)',
    })
  }
  const settings = readProfileSettings(data, file)
  const envFiles: Array<{path: string; content: Buffer}> = []
  const {secrets} = await readSettingsSecrets(settings, {
    directory,
    label: PROFILE_FILE_NAME,
    lookupVariable,
    resolveEnvFile: (name) => {
      // A repository profile may only read files inside its own repository.
      const path = resolve(directory, name)
      if (isAbsolute(name) || relative(directory, path).split(sep)[0] === '..') {
        throw new PolicyError(`${file}: env file "${name}" is outside the profile's directory`, {
          code: 'PROFILE_ENV_FILE_OUTSIDE',
          hint: 'a repository profile may only name env files inside its repository',
        })
      }
      return path
    },
    onEnvFileRead: (path, fileContent) => envFiles.push({path: relative(directory, path), content: fileContent}),
  })
  return {file, directory, settings, secrets, fingerprint: fingerprintProfile(file, content, envFiles), envFiles: envFiles.map((envFile) => join(directory, envFile.path))}
}

/** A repository profile as read from disk, with the fingerprint an allow pins. */
export interface RepositoryProfileBundle {
  file: string
  directory: string
  settings: ProfileSettings
  secrets: ProfileSecret[]
  fingerprint: string
  /** The env files the fingerprint covers, as absolute paths. */
  envFiles: string[]
}

/** The nearest `.secure.toml` from `start` upwards, or undefined. */
export async function findNearestProfileFile(start: string): Promise<string | undefined> {
  for (let directory = resolve(start); ; directory = dirname(directory)) {
    const file = join(directory, PROFILE_FILE_NAME)
    if (await isFile(file)) return file
    if (dirname(directory) === directory) return undefined
  }
}

async function findRepositoryProfile(options: LoadProfileOptions, notes: string[]) {
  for (let from = options.cwd; ; ) {
    const file = await findNearestProfileFile(from)
    if (!file) return undefined
    const directory = dirname(file)
    if (!(await options.trustStore.isDenied(file))) {
      try {
        const bundle = await readRepositoryProfile(file, options.lookupVariable)
        return {file, directory, trust: await options.trustStore.trustState(file, bundle.fingerprint), bundle}
      } catch (error) {
        // A profile that cannot be read cannot have been allowed: it stays inert, and says why.
        if (error instanceof SecureError) return {file, directory, trust: 'not-allowed' as const, problem: error.message}
        throw error
      }
    }
    notes.push(`ignoring ${displayPath(file, options.home)}: denied (secure allow lifts it)`)
    if (dirname(directory) === directory) return undefined
    from = dirname(directory)
  }
}

/** The deepest of the user's `[directories."…"]` entries that `cwd` is in, if any. */
export function findUserEntry(cwd: string, config: UserConfig) {
  let best: UserConfig['directories'][number] | undefined
  for (const entry of config.directories) {
    const inside = cwd === entry.directory || cwd.startsWith(entry.directory === '/' ? '/' : `${entry.directory}/`)
    if (inside && (!best || entry.directory.length > best.directory.length)) best = entry
  }
  return best
}

/** Item titles for the item-per-directory convention, deepest first: `~/src/project/sub`, `~/src/project`, … */
export function directoryItemTitles(cwd: string, home: string): string[] {
  const titles: string[] = []
  for (let directory = resolve(cwd); directory !== home && dirname(directory) !== directory; directory = dirname(directory)) {
    titles.push(displayPath(directory, home))
  }
  return titles
}

interface ReadSecretsOptions {
  directory: string
  label: string
  resolveEnvFile: (name: string) => string
  lookupVariable: VariableLookup
  onEnvFileRead?: (path: string, content: Buffer) => void
}

/** Env files in order, then the `[secrets]` table: a later definition of a name wins. */
async function readSettingsSecrets(settings: ProfileSettings, options: ReadSecretsOptions): Promise<{secrets: ProfileSecret[]}> {
  const byName = new Map<string, ProfileSecret>()
  for (const name of settings.envFiles) {
    const path = options.resolveEnvFile(name)
    for (const secret of await readEnvFileSecrets(path, name, options.lookupVariable, options.onEnvFileRead)) byName.set(secret.name, secret)
  }
  for (const [name, written] of settings.secrets) {
    byName.set(name, {name, template: parseSecretTemplate(expandVariables(written, options.lookupVariable)), origin: options.label})
  }
  const secrets = [...byName.values()]
  // Checked here, not only when a command runs, so that `secure allow` refuses such a profile.
  verifyNoForbiddenVariables(secrets)
  for (const name of settings.secrets.keys()) {
    if (byName.get(name)!.template.references.length === 0) {
      // A value with no reference would be a secret (or a typo) written into the profile itself.
      throw new UsageError(`${options.label}: secrets.${name} holds no op:// reference`, {
        code: 'PROFILE_INVALID',
        hint: 'a profile names where a secret is in 1Password (op://vault/item/field), never the secret itself',
      })
    }
  }
  return {secrets}
}

async function readEnvFileSecrets(
  path: string,
  label: string,
  lookupVariable: VariableLookup,
  onRead?: (path: string, content: Buffer) => void,
): Promise<ProfileSecret[]> {
  const content = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read env file ${path}: ${error.code ?? error.message}`, {code: 'ENV_FILE_UNREADABLE', hint: 'check the file name in the profile or on the command line'})
  })
  onRead?.(path, content)
  try {
    return parseEnvFile(content.toString('utf8'), lookupVariable).map((entry) => ({
      name: entry.name,
      template: parseSecretTemplate(entry.value),
      origin: `${label}:${entry.line}`,
    }))
  } catch (error) {
    if (error instanceof EnvFileSyntaxError) {
      throw new UsageError(`${path}: ${error.message}`, {code: 'ENV_FILE_INVALID', hint: 'env files use the syntax of op run --env-file: NAME=value per line'})
    }
    throw error
  }
}

function verifyNoForbiddenVariables(secrets: readonly ProfileSecret[]): void {
  const refused = secrets.flatMap((secret) => {
    const reason = findForbiddenVariableReason(secret.name)
    return reason ? [`${reason} (${secret.origin})`] : []
  })
  if (refused.length > 0) {
    throw new PolicyError(`refused: ${refused.join('; ')}`, {
      code: 'PROFILE_FORBIDDEN_VARIABLE',
      hint: 'a profile may only set credentials, never variables that make programs load code; remove them',
    })
  }
}

function verifyCommandRules(settings: ProfileSettings | undefined, secrets: ReadonlyMap<string, ProfileSecret>, source: ProfileSource): void {
  if (!settings?.commands || source.kind === 'directory-item') return
  for (const [program, names] of settings.commands) {
    const unknown = names.filter((name) => !secrets.has(name))
    if (unknown.length > 0) {
      throw new UsageError(`[commands.${program}] names ${unknown.join(', ')}, which the profile does not define`, {
        code: 'PROFILE_INVALID',
        hint: 'add them under [secrets] or to an env file, or remove them from the rule',
      })
    }
  }
}

/**
 * The secrets a profile gives to `program`: its `[commands.PROGRAM]` rule, else the `"*"` rule,
 * else (no rules at all) every secret; then narrowed to `only` when given.
 */
export function selectSecretNames(profile: Pick<Profile, 'commands'>, available: readonly string[], program: string, only: readonly string[]): string[] {
  const name = basename(program)
  const allowed = profile.commands ? [...(profile.commands.get(name) ?? profile.commands.get('*') ?? [])] : [...available]
  if (only.length === 0) return allowed
  const refused = only.filter((wanted) => !allowed.includes(wanted))
  if (refused.length > 0) {
    throw new UsageError(`--only ${refused.join(', ')}: not among the secrets this profile gives to ${name} (${allowed.join(', ') || 'none'})`, {
      code: 'ONLY_UNKNOWN',
      hint: 'run secure status to see which secrets each command gets',
    })
  }
  return allowed.filter((candidate) => only.includes(candidate))
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}
