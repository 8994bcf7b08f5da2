import {type SecurePaths, displayPath} from '../paths.js'
import {isAmbientCredential} from '../secrets/ambient-credentials.js'
import {referenceDialectOf} from '../secrets/create-provider.js'
import {findReferenceProblem} from '../secrets/reference.js'
import {type ProfileSecret, type ProfileSource, loadProfileForDirectory, readRepositoryProfile} from './load-profile.js'

/** `secure status`: what applies in a directory and why. Names and references only, never values. */
export interface ProfileStatus {
  directory: string
  source: ProfileSource
  /** True when the profile's secrets would be given (trusted source). */
  active: boolean
  secrets: Array<{name: string; references: readonly string[]; origin: string; problem: string | null}>
  /** Program → secret names; null when every command gets every secret. */
  commands: Record<string, readonly string[]> | null
  mask: boolean
  sshAgent: boolean
  onePassword: {provider: string; auth: string; account: string | null; tokenSet: boolean}
  /** Variables of the current environment `secure exec` would remove. */
  ambientCredentials: string[]
  notes: readonly string[]
}

/** Gathers the status of `cwd`. */
export async function describeProfile(
  cwd: string,
  paths: SecurePaths,
  environment: Readonly<Record<string, string | undefined>>,
): Promise<ProfileStatus> {
  const lookupVariable = (name: string) => environment[name]
  const {userConfig, profile} = await loadProfileForDirectory(cwd, paths, environment)
  let secrets: readonly ProfileSecret[] = [...profile.secrets.values()]
  let commands = profile.commands
  const {source} = profile
  const active = source.kind !== 'repository' || source.trust === 'allowed'
  if (!active && source.kind === 'repository' && !source.problem) {
    // Show what an inert profile asks for, so the user can review it before allowing it.
    const bundle = await readRepositoryProfile(source.file, lookupVariable)
    secrets = bundle.secrets
    commands = bundle.settings.commands
  }
  const dialect = referenceDialectOf(userConfig.onePassword)
  return {
    directory: cwd,
    source,
    active,
    secrets: secrets.map((secret) => ({
      name: secret.name,
      references: secret.template.references,
      origin: secret.origin,
      problem: secret.template.references.map((reference) => findReferenceProblem(reference, dialect)).find(Boolean) ?? null,
    })),
    commands: commands ? Object.fromEntries(commands) : null,
    mask: profile.mask,
    sshAgent: profile.sshAgent,
    onePassword: {
      provider: userConfig.onePassword.provider,
      auth: userConfig.onePassword.auth,
      account: userConfig.onePassword.account ?? null,
      tokenSet: Boolean(environment.OP_SERVICE_ACCOUNT_TOKEN),
    },
    ambientCredentials: Object.keys(environment).filter((name) => isAmbientCredential(name) && !(profile.sshAgent && name === 'SSH_AUTH_SOCK')).sort(),
    notes: profile.notes,
  }
}

/** The status as lines for a person. */
export function formatProfileStatus(status: ProfileStatus, home: string): string[] {
  const show = (path: string) => displayPath(path, home)
  const {source} = status
  const lines = [`directory   ${show(status.directory)}`]
  switch (source.kind) {
    case 'none':
      lines.push('profile     none: secure exec runs commands with no secrets')
      break
    case 'repository': {
      const trust = {
        allowed: 'allowed',
        denied: 'denied',
        'not-allowed': source.problem ? `not allowed, and cannot be: ${source.problem}` : 'NOT ALLOWED: new, or changed or moved since allowed; review it, then run secure allow',
      }[source.trust]
      lines.push(`profile     ${show(source.file)} (repository, ${trust})`)
      break
    }
    case 'user-config':
      lines.push(`profile     ${show(source.directory)} in ${show(source.file)} (your config)`)
      break
    case 'directory-item':
      lines.push(`profile     1Password item titled ${source.titles.map((title) => `"${title}"`).join(' or ')} in vault "${source.vault}"`)
      break
  }
  const width = Math.max(0, ...status.secrets.map((secret) => secret.name.length))
  status.secrets.forEach((secret, index) => {
    const what = secret.references.length > 0 ? secret.references.join(' ') : '(literal value)'
    const problem = secret.problem ? `  INVALID: ${secret.problem}` : ''
    lines.push(`${index === 0 ? 'secrets    ' : '           '} ${secret.name.padEnd(width)}  ${what}  (${secret.origin})${problem}`)
  })
  if (status.commands) {
    const rules = Object.entries(status.commands).map(([program, names]) => `${program === '*' ? 'others' : program}: ${names.join(', ') || 'none'}`)
    if (!('*' in status.commands)) rules.push('others: none')
    lines.push(`commands    ${rules.join('; ')}`)
  } else if (status.secrets.length > 0) {
    lines.push('commands    every command gets every secret (add [commands.PROGRAM] tables to narrow)')
  }
  lines.push(`masking     ${status.mask ? 'on' : 'off'}`, `ssh agent   ${status.sshAgent ? 'passed' : 'removed'}`)
  const {onePassword} = status
  const auth = onePassword.auth === 'desktop' ? `desktop app${onePassword.account ? ` (account ${onePassword.account})` : ''}` : `service account (OP_SERVICE_ACCOUNT_TOKEN ${onePassword.tokenSet ? 'set' : 'NOT set'})`
  lines.push(`1password   ${onePassword.provider === 'op' ? 'op CLI' : 'SDK'}, ${onePassword.provider === 'op' ? 'as op is signed in' : auth}`)
  if (status.ambientCredentials.length > 0) lines.push(`ambient     secure exec removes ${status.ambientCredentials.join(', ')}`)
  for (const note of status.notes) lines.push(`note        ${note}`)
  return lines
}
