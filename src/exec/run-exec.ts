import {type Writable} from 'node:stream'

import {type AuditContext, appendAuditRecord, describeCommand} from '../audit/index.js'
import {PolicyError} from '../errors.js'
import {type SecurePaths, displayPath} from '../paths.js'
import {type Profile, type ProfileSecret, loadProfileForDirectory, selectSecretNames, verifyProfileIsTrusted} from '../profile/load-profile.js'
import {type OnePasswordSettings} from '../profile/user-config.js'
import {type SecretProvider} from '../secrets/provider.js'
import {type ReferenceDialect} from '../secrets/reference.js'
import {EXEC_MARKER, type Environment, buildChildEnvironment} from './child-environment.js'
import {resolveSecrets, secretsFromDirectoryItem} from './resolve-secrets.js'
import {runChild} from './run-child.js'

/** What the user asked `secure exec` for, from its flags. */
export interface ExecOptions {
  /** The directory whose profile applies and where the command runs. */
  cwd: string
  command: string
  args: readonly string[]
  /** `--only NAME…`: narrow the command's secrets further. */
  only: readonly string[]
  /** `--mask`/`--no-mask`; undefined lets the profile decide (default on). */
  mask: boolean | undefined
  /** `--env-file`: `op run` env files, read last. */
  envFiles: readonly string[]
  /** `--ssh-agent`; undefined lets the profile decide (default off). */
  sshAgent: boolean | undefined
  /** `--quiet`: no notice line on stderr (errors are still printed). */
  quiet: boolean
}

/** Everything `secure exec` takes from the outside world, so tests can supply their own. */
export interface ExecContext {
  /** The user's environment, read once by the base command. */
  environment: Environment
  paths: SecurePaths
  /** Creates the configured provider; called at most once, and only when there is something to resolve. */
  createProvider: (settings: OnePasswordSettings, environment: Environment) => Promise<SecretProvider>
  referenceDialect: (settings: OnePasswordSettings) => ReferenceDialect
  audit: Omit<AuditContext, 'logPath'>
  stdout: Writable
  stderr: Writable
  /** Whether stdin is a terminal (see RunChildOptions.interactive). */
  interactive: boolean
  signals: NodeJS.EventEmitter
  /** Writes one line for the user on stderr. */
  notice: (line: string) => void
}

/**
 * `secure exec`: resolves the secrets the directory's profile gives this command, starts the command
 * with them in its environment only (never argv, never a file), masks them in its output, and
 * returns its exit code. The environment loses every ambient credential on the way.
 */
export async function runExec(options: ExecOptions, context: ExecContext): Promise<number> {
  if (context.environment[EXEC_MARKER] !== undefined) {
    throw new PolicyError('refusing to run secure exec inside another secure exec', {
      code: 'NESTED_EXEC',
      hint: `the command already runs with its secrets (${EXEC_MARKER} is set); run it directly`,
    })
  }
  const home = context.paths.home
  const {userConfig, profile} = await loadProfileForDirectory(options.cwd, context.paths, context.environment, options.envFiles)
  const say = (line: string) => options.quiet || context.notice(line)
  for (const note of profile.notes) say(note)
  verifyProfileIsTrusted(profile, home)

  let provider: Promise<SecretProvider> | undefined
  const getProvider = () => (provider ??= context.createProvider(userConfig.onePassword, context.environment))

  let available: ProfileSecret[] = [...profile.secrets.values()]
  let itemSecrets: ProfileSecret[] = []
  if (profile.source.kind === 'directory-item') {
    const item = await (await getProvider()).findItem(profile.source.vault, profile.source.titles)
    itemSecrets = item ? secretsFromDirectoryItem(item) : []
    available = [...itemSecrets, ...available]
  }
  const names = selectSecretNames(profile, available.map((secret) => secret.name), options.command, options.only)
  const selected = available.filter((secret) => names.includes(secret.name))
  const values = await resolveSecrets(selected, getProvider, context.referenceDialect(userConfig.onePassword))

  const sshAgent = options.sshAgent ?? profile.sshAgent
  const marker = describeSource(profile, home)
  const {environment, scrubbed} = buildChildEnvironment(context.environment, {secrets: values, sshAgent, marker})
  say(summarise(profile, [...values.keys()], scrubbed, options.command, home))

  const auditContext: AuditContext = {...context.audit, logPath: context.paths.auditLog}
  const command = describeCommand([options.command, ...options.args])
  const references = selected.flatMap((secret) => secret.template.references)
  await appendAuditRecord(auditContext, {
    event: 'exec.start',
    cwd: options.cwd,
    details: {profile: marker, command, secrets: [...values.keys()], references: [...new Set(references)]},
  })

  // What came from 1Password is masked; a literal of an env file (APP_ENV=prod) is not a secret.
  const fromOnePassword = selected.filter((secret) => secret.template.references.length > 0 || itemSecrets.includes(secret))
  const mask = options.mask ?? profile.mask
  try {
    const outcome = await runChild({
      command: options.command,
      args: options.args,
      cwd: options.cwd,
      environment,
      maskValues: mask ? fromOnePassword.map((secret) => values.get(secret.name)!) : [],
      stdout: context.stdout,
      stderr: context.stderr,
      interactive: context.interactive,
      signals: context.signals,
    })
    await appendAuditRecord(auditContext, {event: 'exec.end', cwd: options.cwd, details: {command, exitCode: outcome.exitCode, signal: outcome.signal ?? null}})
    return outcome.exitCode
  } catch (error) {
    await appendAuditRecord(auditContext, {event: 'exec.end', cwd: options.cwd, details: {command, error: (error as {code?: string}).code ?? 'FAILED'}})
    throw error
  }
}

function describeSource(profile: Profile, home: string): string {
  const {source} = profile
  if (source.kind === 'repository' || source.kind === 'user-config') return displayPath(source.kind === 'repository' ? source.file : source.directory, home)
  if (source.kind === 'directory-item') return `1Password vault "${source.vault}"`
  return 'none'
}

function summarise(profile: Profile, names: readonly string[], scrubbed: readonly string[], command: string, home: string): string {
  // Names only, and not too many of them: the full list is in `secure status`.
  const listed = scrubbed.length > 6 ? [...scrubbed.slice(0, 5), `${scrubbed.length - 5} more`] : scrubbed
  const removed = scrubbed.length > 0 ? `; removed ambient ${listed.join(', ')}` : ''
  if (profile.source.kind === 'none') return `secure: no profile here: running ${command} with no secrets${removed}`
  const given = names.length > 0 ? `${names.join(', ')} for ${command}` : `no secrets for ${command}`
  return `secure: ${given} from ${describeSource(profile, home)}${removed}`
}
