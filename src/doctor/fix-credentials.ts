import {readFile} from 'node:fs/promises'

import {type AuditContext, appendAuditRecord} from '../audit/index.js'
import {EnvironmentError, PolicyError, SecureError, UsageError} from '../errors.js'
import {type SecurePaths, displayPath} from '../paths.js'
import {type HomeProfileAddition, extendHomeProfile, readHomeProfile} from '../profile/extend-user-config.js'
import {type OnePasswordSettings, readUserConfig} from '../profile/user-config.js'
import {type SecretProvider, SecretResolutionError, type VaultSummary, detailFieldId} from '../secrets/provider.js'
import {type Finding, findAmbientCredentials} from './find-credentials.js'
import {type CredentialMove, type MovePlan, applyMoves, planCredentialMoves} from './plan-credential-moves.js'
import {replaceFileAtomically} from './replace-file.js'

/** What the user asked `secure doctor --fix` for. */
export interface FixOptions {
  /** The vault new items go in, by title or ID; undefined: ask on a terminal, refuse without one. */
  vault: string | undefined
  /** Go ahead without asking (the plan was read some other way). */
  yes: boolean
}

/** What `secure doctor --fix` takes from the outside world. */
export interface FixContext {
  /** The directory it runs in (its project .npmrc is reported, not changed). */
  cwd: string
  /** $XDG_CONFIG_HOME: the GitHub CLI's hosts.yml is there. */
  configHome: string
  environment: Readonly<Record<string, string | undefined>>
  paths: SecurePaths
  createProvider: (settings: OnePasswordSettings, environment: Readonly<Record<string, string | undefined>>) => Promise<SecretProvider>
  audit: Omit<AuditContext, 'logPath'>
  /** A terminal to ask the human on. */
  interactive: boolean
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>
  /** Asks for one line on the terminal. */
  ask: (question: string) => Promise<string>
  /** The plan and the outcome: the command's product, on stdout. */
  print: (text: string) => void
}

/** Where each variable of a move comes from in 1Password. */
interface MovedReferences {
  secret: string
  details: readonly string[]
  /** The user's config already had them (a run that stopped half way): no new item. */
  reused: boolean
}

/**
 * `secure doctor --fix` (issue 6): moves each credential whose program also reads it from the
 * environment (npm, twine, gh, cargo, the AWS CLI) into 1Password, and has `secure exec` give it
 * to that program alone. It shows the plan and asks first; it stores every item in 1Password and
 * reads each back before it touches any file, so a failed step leaves every file as it was; then it
 * adds the references to the user's config (appended, comments and formatting kept, re-parsed to
 * prove it), takes the entries out of the files (atomically) and records the move in the audit log.
 * Returns the exit code: 1 when a high-severity finding remains, as `secure doctor`.
 */
export async function fixAmbientCredentials(options: FixOptions, context: FixContext): Promise<number> {
  const {home, configFile} = context.paths
  const userConfig = await readUserConfig(configFile, home)
  const configText = await readFile(configFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  const inputs = {home, cwd: context.cwd, environment: context.environment, configHome: context.configHome}
  const findings = await findAmbientCredentials(inputs)
  const plan = await planCredentialMoves(inputs)
  const shownConfig = displayPath(configFile, home)
  const date = context.audit.now().toISOString().slice(0, 10)
  const heading = `secure doctor --fix, ${date}: credentials moved out of files into 1Password, for secure exec to give out`
  const staying = formatStaying(findings, plan)
  if (plan.moves.length === 0) {
    context.print(['secure doctor --fix: nothing here can be moved into 1Password by secure.', ...staying].join('\n'))
    return exitCodeFor(findings)
  }

  // Before 1Password is asked anything: the config must be able to take the references.
  const homeProfile = readHomeProfile(configText ?? '', home)
  const existing = (move: CredentialMove) => variablesOf(move).map((variable) => homeProfile.secrets.get(variable))
  const placeholders = new Map(plan.moves.map((move) => [move, placeholderReferences(move, existing(move))]))
  const preview = extendHomeProfile(configText ?? '', shownConfig, home, additionFor(plan.moves, placeholders), heading)

  const provider = await context.createProvider(userConfig.onePassword, context.environment)
  const reused = await findReusableReferences(plan, homeProfile.secrets, provider, shownConfig, home)
  const toCreate = plan.moves.filter((move) => !reused.has(move))
  // The plan first: it is worth reading even when 1Password turns out not to be reachable.
  context.print(formatPlan(plan, findings, reused, options.vault, home, preview.addedLines, shownConfig, [...preview.notes, ...staying]))
  const vault = toCreate.length > 0 ? await chooseVault(options, context, provider) : undefined
  if (!options.yes) {
    if (!context.interactive) {
      throw new PolicyError('no terminal to confirm the move on: nothing was changed', {code: 'DOCTOR_NOT_CONFIRMED', hint: 'run it in a terminal, or pass --yes once you have read the plan above'})
    }
    const count = plan.moves.length
    if (!(await context.confirm(`Move ${count === 1 ? 'this credential' : `these ${count} credentials`}${vault ? ` into vault "${vault.title}"` : ''} and change those files?`))) {
      throw new PolicyError('not confirmed: nothing was changed', {code: 'DOCTOR_DECLINED', hint: 'run secure doctor --fix again when you are ready'})
    }
  }

  const auditContext = {...context.audit, logPath: context.paths.auditLog}
  const references = new Map(reused)
  try {
    // 1. Into 1Password, and back: no file changes until every value is stored and reads back the same.
    for (const move of toCreate) {
      const item = await provider.createItem({vaultId: vault!.id, title: move.title, secret: move.secret.value, details: move.details.map(({label, value}) => ({label, value}))})
      references.set(move, {secret: item.secretReference, details: item.detailReferences, reused: false})
    }
    await verifyReadBack(plan.moves, references, provider)
  } catch (error) {
    const created = toCreate.filter((move) => references.has(move))
    if (created.length === 0) throw error
    await appendAuditRecord(auditContext, {event: 'doctor.fix.failed', cwd: context.cwd, details: {step: '1password', vault: vault ?? null, created: created.map((move) => ({item: move.title, reference: references.get(move)!.secret}))}})
    const listed = created.map((move) => `"${move.title}" (${references.get(move)!.secret})`).join(', ')
    const secureError = error instanceof SecureError ? error : undefined
    throw new EnvironmentError(`${(error as Error).message}; no file was changed, but 1Password now holds ${created.length === 1 ? 'a new item' : `${created.length} new items`}: ${listed}`, {
      code: secureError?.code ?? 'DOCTOR_FIX_FAILED',
      hint: `${secureError?.hint ? `${secureError.hint}; ` : ''}delete ${created.length === 1 ? 'that item' : 'those items'} in 1Password, or keep them`,
      cause: error,
      exitCode: secureError?.exitCode,
    })
  }

  // 2. The files: the config first (references alone change nothing), then each credential file.
  const changed: string[] = []
  try {
    const config = extendHomeProfile(configText ?? '', shownConfig, home, additionFor(plan.moves, references), heading)
    if (config.text !== (configText ?? '')) {
      await replaceFileAtomically(configFile, config.text, {expected: configText, newFileMode: 0o600, shownAs: shownConfig, verify: (temporary) => readUserConfig(temporary, home).then(() => undefined)})
      changed.push(shownConfig)
    }
    for (const [file, moves] of groupByFile(plan.moves)) {
      const before = plan.sources.get(file)!
      const comment = (move: CredentialMove) => `# moved into 1Password by secure doctor --fix on ${date}: secure exec gives it to ${move.program} (see ${shownConfig})`
      await replaceFileAtomically(file, applyMoves(before, moves, comment), {expected: before, newFileMode: 0o600, shownAs: displayPath(file, home)})
      changed.push(displayPath(file, home))
    }
  } catch (error) {
    await appendAuditRecord(auditContext, {event: 'doctor.fix.failed', cwd: context.cwd, details: {step: 'files', changed, moved: auditMoves(plan.moves, references, home)}})
    if (changed.length === 0 || !(error instanceof SecureError)) throw error
    throw new EnvironmentError(`${error.message} (already changed: ${changed.join(', ')})`, {
      code: error.code,
      hint: 'run secure doctor --fix again: it reuses the references the config already has',
      cause: error,
      exitCode: error.exitCode,
    })
  }

  // 3. The record, and what is left.
  await appendAuditRecord(auditContext, {event: 'doctor.fix', cwd: context.cwd, details: {vault: vault ?? null, config: configFile, moved: auditMoves(plan.moves, references, home)}})
  const remaining = await findAmbientCredentials(inputs)
  context.print(formatOutcome(plan.moves, references, vault, remaining))
  return exitCodeFor(remaining)
}

function exitCodeFor(findings: readonly Finding[]): number {
  return findings.some((finding) => finding.severity === 'high') ? 1 : 0
}

function variablesOf(move: CredentialMove): string[] {
  return [move.secret.variable, ...move.details.map((detail) => detail.variable)]
}

/** References to show and to check the config with before the items exist: the config's own where it has them. */
function placeholderReferences(move: CredentialMove, existing: ReadonlyArray<string | undefined>): MovedReferences {
  const placeholder = (field: string) => `op://<vault>/<new item>/${field}`
  return {
    secret: existing[0] ?? placeholder('password'),
    details: move.details.map((detail, index) => existing[index + 1] ?? placeholder(detailFieldId(detail.label))),
    reused: false,
  }
}

/** The secrets, `[commands.X]` and hook commands the moves add to the home directory's profile. */
function additionFor(moves: readonly CredentialMove[], references: ReadonlyMap<CredentialMove, MovedReferences>): HomeProfileAddition {
  const secrets = new Map<string, string>()
  const commands = new Map<string, string[]>()
  for (const move of moves) {
    const moved = references.get(move)!
    secrets.set(move.secret.variable, moved.secret)
    move.details.forEach((detail, index) => secrets.set(detail.variable, moved.details[index]!))
    commands.set(move.program, [...(commands.get(move.program) ?? []), ...variablesOf(move)])
  }
  return {secrets, commands, hookExec: [...new Set(moves.flatMap((move) => move.hookCommands))]}
}

/**
 * Moves whose variables the user's home profile already gives (a run that stopped after writing
 * the config): reused when 1Password holds exactly the file's values there, refused otherwise.
 */
async function findReusableReferences(plan: MovePlan, given: ReadonlyMap<string, string>, provider: SecretProvider, shownConfig: string, home: string): Promise<Map<CredentialMove, MovedReferences>> {
  const candidates = plan.moves.filter((move) => variablesOf(move).some((variable) => given.has(variable)))
  const conflict = (move: CredentialMove, problem: string) =>
    new PolicyError(`${shownConfig} already gives ${variablesOf(move).filter((variable) => given.has(variable)).join(', ')}, ${problem}`, {
      code: 'DOCTOR_CONFIG_CONFLICT',
      hint: `remove ${variablesOf(move).length === 1 ? 'it' : 'them'} from [directories."~".secrets] if stale, or leave ${displayPath(move.file, home)} as it is`,
    })
  for (const move of candidates) {
    const values = variablesOf(move).map((variable) => given.get(variable))
    if (values.some((value) => value === undefined || !value.startsWith('op://'))) {
      throw conflict(move, `and secure can reuse that only with all of ${variablesOf(move).join(', ')} given as plain op:// references`)
    }
  }
  const wanted = candidates.flatMap((move) => variablesOf(move).map((variable) => given.get(variable)!))
  let values: ReadonlyMap<string, string> = new Map()
  try {
    values = wanted.length === 0 ? values : await provider.resolveAll(wanted)
  } catch (error) {
    if (!(error instanceof SecretResolutionError)) throw error
    const failed = error.failures.map((failure) => `${failure.reference} (${failure.reason})`).join(', ')
    throw new PolicyError(`${shownConfig} already gives references for these credentials, and 1Password cannot resolve ${failed}`, {
      code: 'DOCTOR_CONFIG_CONFLICT',
      hint: 'fix or remove them in [directories."~".secrets], then run secure doctor --fix again',
    })
  }
  const reused = new Map<CredentialMove, MovedReferences>()
  for (const move of candidates) {
    const [secret, ...details] = variablesOf(move).map((variable) => given.get(variable)!) as [string, ...string[]]
    const same = values.get(secret) === move.secret.value && move.details.every((detail, index) => values.get(details[index]!) === detail.value)
    if (!same) throw conflict(move, `from 1Password, with a value other than ${displayPath(move.file, home)} holds`)
    reused.set(move, {secret, details, reused: true})
  }
  return reused
}

async function chooseVault(options: FixOptions, context: FixContext, provider: SecretProvider): Promise<VaultSummary> {
  const vaults = await provider.listVaults()
  const titles = vaults.map((vault) => vault.title).join(', ')
  if (options.vault !== undefined) {
    const wanted = options.vault
    const byId = vaults.filter((vault) => vault.id === wanted)
    const byTitle = vaults.filter((vault) => vault.title === wanted)
    const matches = byId.length > 0 ? byId : byTitle.length > 0 ? byTitle : vaults.filter((vault) => vault.title.toLowerCase() === wanted.toLowerCase())
    if (matches.length === 1) return matches[0]!
    if (matches.length > 1) {
      throw new UsageError(`more than one 1Password vault is called "${wanted}"`, {code: 'DOCTOR_VAULT_AMBIGUOUS', hint: `pass its ID instead: ${matches.map((vault) => vault.id).join(', ')}`})
    }
    throw new UsageError(`no 1Password vault "${wanted}"`, {code: 'DOCTOR_VAULT_NOT_FOUND', hint: vaults.length > 0 ? `the vaults you can use: ${titles}` : 'this account sees no vault: grant it one'})
  }
  if (vaults.length === 0) throw new EnvironmentError('this 1Password account sees no vault to store the credentials in', {code: 'DOCTOR_NO_VAULT', hint: 'create a vault, or grant the service account one'})
  if (!context.interactive) throw new UsageError('no vault named to store the credentials in', {code: 'DOCTOR_NO_VAULT', hint: `pass --vault NAME (the vaults you can use: ${titles})`})
  const menu = vaults.map((vault, index) => `  ${index + 1}) ${vault.title}`).join('\n')
  const answer = (await context.ask(`Which 1Password vault should hold them?\n${menu}\nNumber: `)).trim()
  const chosen = /^\d+$/.test(answer) ? vaults[Number(answer) - 1] : undefined
  if (chosen === undefined) throw new UsageError(`"${answer}" is not one of the numbers 1 to ${vaults.length}`, {code: 'DOCTOR_NO_VAULT', hint: 'run it again and type a number, or pass --vault NAME'})
  return chosen
}

/** Reads every new reference back in one call: each must hold exactly what the file holds. */
async function verifyReadBack(moves: readonly CredentialMove[], references: ReadonlyMap<CredentialMove, MovedReferences>, provider: SecretProvider): Promise<void> {
  const expected = new Map<string, {value: string; move: CredentialMove}>()
  for (const move of moves) {
    const moved = references.get(move)!
    if (moved.reused) continue
    expected.set(moved.secret, {value: move.secret.value, move})
    move.details.forEach((detail, index) => expected.set(moved.details[index]!, {value: detail.value, move}))
  }
  if (expected.size === 0) return
  const values = await provider.resolveAll([...expected.keys()])
  const differing = [...expected].filter(([reference, {value}]) => values.get(reference) !== value)
  if (differing.length > 0) {
    throw new EnvironmentError(`1Password reads back other values than were stored, at ${differing.map(([reference, {move}]) => `${reference} (${move.title})`).join(', ')}`, {
      code: 'DOCTOR_READ_BACK_MISMATCH',
      hint: 'nothing was changed on disk; check those items in 1Password',
    })
  }
}

function groupByFile(moves: readonly CredentialMove[]): Map<string, CredentialMove[]> {
  const byFile = new Map<string, CredentialMove[]>()
  for (const move of moves) byFile.set(move.file, [...(byFile.get(move.file) ?? []), move])
  return byFile
}

/** Locations, references and fingerprints: never a value. */
function auditMoves(moves: readonly CredentialMove[], references: ReadonlyMap<CredentialMove, MovedReferences>, home: string) {
  return moves.flatMap((move) => {
    const moved = references.get(move)
    if (moved === undefined) return []
    const variables = Object.fromEntries([[move.secret.variable, moved.secret], ...move.details.map((detail, index) => [detail.variable, moved.details[index]!])])
    return [{what: move.what, file: displayPath(move.file, home), lines: move.removedLines, fingerprint: move.fingerprint, item: moved.reused ? null : move.title, variables, program: move.program}]
  })
}

function whereOf(move: CredentialMove, findings: readonly Finding[], home: string): string {
  const finding = findings.find((candidate) => candidate.file === move.file && candidate.line === move.findingLines[0])
  return finding?.where ?? `${displayPath(move.file, home)}:${move.findingLines[0]}`
}

function linesPhrase(lines: readonly number[]): string {
  return lines.length === 1 ? `line ${lines[0]} becomes a comment` : `lines ${lines.join(', ')} become one comment`
}

function formatPlan(
  plan: MovePlan,
  findings: readonly Finding[],
  reused: ReadonlyMap<CredentialMove, MovedReferences>,
  vault: string | undefined,
  home: string,
  configLines: readonly string[],
  shownConfig: string,
  after: readonly string[],
): string {
  const count = plan.moves.length
  const lines = [`secure doctor --fix: ${count === 1 ? 'this credential moves' : `these ${count} credentials move`} into 1Password${vault ? ` vault "${vault}"` : ''}:`]
  for (const move of plan.moves) {
    const variables = variablesOf(move).join(' and ')
    const item = reused.has(move)
      ? `already in 1Password at ${reused.get(move)!.secret} (your config has it)`
      : `new item "${move.title}"${move.details.length > 0 ? ` (with the ${move.details.map((detail) => detail.label).join(', ')} beside it)` : ''}`
    lines.push(
      `  ${move.what}: ${whereOf(move, findings, home)} [${move.fingerprint}]`,
      `      1Password  ${item}`,
      `      file       ${displayPath(move.file, home)}: ${linesPhrase(move.removedLines)}`,
      `      program    secure exec gives ${move.program} ${variables}, and no other program`,
    )
  }
  if (configLines.length > 0) lines.push(`${shownConfig} gets:`, ...configLines.map((line) => (line === '' ? '' : `    ${line}`)))
  lines.push('No file changes until every value is stored in 1Password and reads back the same.')
  return [...lines, ...after].join('\n')
}

/** Every finding `--fix` leaves alone, with why (or what to do instead). */
function formatStaying(findings: readonly Finding[], plan: MovePlan): string[] {
  const moved = (finding: Finding) => plan.moves.some((move) => move.file === finding.file && finding.line !== undefined && move.findingLines.includes(finding.line))
  const staying = findings.filter((finding) => !moved(finding))
  if (staying.length === 0) return []
  return [
    '',
    'Not moved (advice only):',
    ...staying.map((finding) => {
      const kept = plan.kept.find((entry) => entry.file === finding.file && entry.line === finding.line)
      return `  ${finding.severity.toUpperCase().padEnd(6)}  ${finding.what}: ${finding.where}${finding.fingerprint ? ` [${finding.fingerprint}]` : ''}\n          ${kept ? `not moved: ${kept.reason}` : finding.advice}`
    }),
  ]
}

function formatOutcome(moves: readonly CredentialMove[], references: ReadonlyMap<CredentialMove, MovedReferences>, vault: VaultSummary | undefined, remaining: readonly Finding[]): string {
  const lines = [`Moved ${moves.length === 1 ? 'one credential' : `${moves.length} credentials`} into 1Password${vault ? ` vault "${vault.title}"` : ''}:`]
  for (const move of moves) {
    const moved = references.get(move)!
    lines.push(`  ${move.what} → ${moved.secret}, given to ${move.program} as ${move.secret.variable}`)
  }
  const commands = [...new Set(moves.flatMap((move) => move.hookCommands))]
  const one = commands.length === 1
  lines.push(
    `${moves.length === 1 ? 'It reaches its program' : 'They reach their programs'} through secure exec (secure exec -- ${commands[0]} …); with the shell hook installed, ${commands.join(', ')} ${one ? 'goes' : 'go'} through it by ${one ? 'itself' : 'themselves'}.`,
    'The old values may still be in backups, shell history or a dotfiles repository: rotate them when you can.',
  )
  const high = remaining.filter((finding) => finding.severity === 'high').length
  if (remaining.length > 0) lines.push(`${remaining.length} finding${remaining.length === 1 ? '' : 's'} remain${remaining.length === 1 ? 's' : ''}, ${high} high: secure doctor lists them.`)
  return lines.join('\n')
}
