import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {CREDENTIAL_LINES, NPMRC_CREDENTIAL, fingerprint, isPlaceholder} from './find-credentials.js'

/**
 * One credential `secure doctor --fix` can take out of a file: the program that uses it reads it
 * from an environment variable as well, so the file entry can go and `secure exec` can give the
 * variable to that program alone, just in time.
 */
export interface CredentialMove {
  /** What it is, as the finding says: `npm token`. */
  what: string
  /** The file (absolute). */
  file: string
  /** The 1-based lines of the findings it settles (gh's hosts.yml can hold one token twice). */
  findingLines: readonly number[]
  /** The 1-based lines removed from the file: the first becomes a comment saying where the value went. */
  removedLines: readonly number[]
  fingerprint: string
  /** The title of the 1Password item it becomes. */
  title: string
  /** The variable the program reads the secret from, and the secret (never shown). */
  secret: {variable: string; value: string}
  /** What belongs with the secret but is no secret (an AWS access key ID): a text field and its variable. */
  details: ReadonlyArray<{label: string; variable: string; value: string}>
  /** The program that gets the variables (`[commands.npm]`). */
  program: string
  /** What the shell hook routes through `secure exec` for it: `npm publish`, `gh`. */
  hookCommands: readonly string[]
}

/** A finding in one of those files that stays where it is, and why. */
export interface KeptCredential {
  file: string
  line: number
  reason: string
}

/** What `secure doctor --fix` would do with the files it knows how to change. */
export interface MovePlan {
  moves: CredentialMove[]
  kept: KeptCredential[]
  /** Each file read, as it was read: what the moves are computed from, and what it must still hold when written. */
  sources: ReadonlyMap<string, string>
}

/** Where the files are. */
export interface MovePlanInputs {
  home: string
  /** $XDG_CONFIG_HOME: the GitHub CLI's hosts.yml is there. */
  configHome: string
}

/**
 * Reads the credential files whose programs also take their secret from the environment: `~/.npmrc`,
 * `~/.pypirc`, the GitHub CLI's `hosts.yml`, cargo's credentials and `~/.aws/credentials`, and says
 * which of their entries can move and which cannot. It changes nothing.
 */
export async function planCredentialMoves(inputs: MovePlanInputs): Promise<MovePlan> {
  const plans = await Promise.all([
    withLines(join(inputs.home, '.npmrc'), planNpmrc),
    withLines(join(inputs.home, '.pypirc'), planPypirc),
    withLines(join(inputs.configHome, 'gh', 'hosts.yml'), planGhHosts),
    withLines(join(inputs.home, '.cargo', 'credentials.toml'), planCargo),
    withLines(join(inputs.home, '.cargo', 'credentials'), planCargo),
    withLines(join(inputs.home, '.aws', 'credentials'), planAws),
  ])
  const plan: MovePlan = {
    moves: plans.flatMap((one) => one.moves),
    kept: plans.flatMap((one) => one.kept),
    sources: new Map(plans.flatMap((one) => [...one.sources])),
  }
  // cargo reads credentials.toml and the older credentials: one variable cannot stand for two entries.
  for (const variable of new Set(plan.moves.map((move) => move.secret.variable))) {
    const same = plan.moves.filter((move) => move.secret.variable === variable)
    if (same.length < 2) continue
    plan.moves = plan.moves.filter((move) => move.secret.variable !== variable)
    plan.kept.push(...same.flatMap((move) => move.findingLines.map((line) => ({file: move.file, line, reason: `${variable} would stand for more than one entry: keep one, then run --fix again`}))))
  }
  return plan
}

/**
 * The file's text after the moves of `moves` (all of this file): each move's first removed line
 * becomes `comment` (with the line's indentation and line ending), its other lines are removed.
 */
export function applyMoves(text: string, moves: readonly CredentialMove[], comment: (move: CredentialMove) => string): string {
  const lines = text.split('\n')
  const replaced = new Map<number, string | undefined>()
  for (const move of moves) {
    move.removedLines.forEach((line, index) => {
      const original = lines[line - 1]!
      const indentation = /^\s*/.exec(original)![0]
      replaced.set(line, index === 0 ? `${indentation}${comment(move)}${original.endsWith('\r') ? '\r' : ''}` : undefined)
    })
  }
  return lines.flatMap((line, index) => (replaced.has(index + 1) ? (replaced.get(index + 1) === undefined ? [] : [replaced.get(index + 1)!]) : [line])).join('\n')
}

type FilePlan = Omit<MovePlan, 'sources'>

/** A move of the secret found on `findingLines`, which are also the lines removed unless it says otherwise. */
function moveOf(move: Omit<CredentialMove, 'removedLines' | 'fingerprint' | 'details'> & Partial<Pick<CredentialMove, 'removedLines' | 'details'>>): CredentialMove {
  return {...move, removedLines: move.removedLines ?? move.findingLines, fingerprint: fingerprint(move.secret.value), details: move.details ?? []}
}
type FilePlanner = (file: string, lines: readonly string[]) => FilePlan

async function withLines(file: string, planner: FilePlanner): Promise<MovePlan> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  return text === undefined ? {moves: [], kept: [], sources: new Map()} : {...planner(file, text.split('\n')), sources: new Map([[file, text]])}
}

/** The `[section]` each line is in (INI and TOML headers alike), undefined before the first. */
function sectionsOf(lines: readonly string[]): Array<string | undefined> {
  let section: string | undefined
  return lines.map((line) => {
    const header = /^\s*\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$/.exec(line)
    if (header) section = header[1]
    return section
  })
}

/** Every line matching `pattern` whose first group is a stored value (not a `${VAR}` placeholder). */
function valueLines(lines: readonly string[], pattern: RegExp): Array<{line: number; value: string}> {
  return lines.flatMap((text, index) => {
    const value = pattern.exec(text)?.[1]
    return value && !isPlaceholder(value) ? [{line: index + 1, value}] : []
  })
}

/**
 * `~/.npmrc`: npm reads `npm_config_//host/path/:_authToken` (and `_auth`, `_password`) from its
 * environment, so the line goes and `secure exec` gives npm that variable. A `${NPM_TOKEN}`
 * placeholder would be worse: npm 11 sends `Bearer ${NPM_TOKEN}` literally when the variable is
 * unset, on every run outside `secure exec`, and `${NPM_TOKEN?}` needs npm 11.6 or later.
 */
const planNpmrc: FilePlanner = (file, lines) => {
  const found = lines.flatMap((text, index) => {
    const match = NPMRC_CREDENTIAL.exec(text)
    return match && !isPlaceholder(match[3]!) ? [{line: index + 1, scope: match[1], key: match[2]!, value: match[3]!}] : []
  })
  const plan: FilePlan = {moves: [], kept: []}
  for (const entry of found) {
    if (entry.scope === undefined) {
      plan.kept.push({file, line: entry.line, reason: 'it is scoped to no registry (npm 9 and later refuse such lines): write it as //host/:' + entry.key + ', then run --fix again'})
      continue
    }
    const variable = `npm_config_${entry.scope}${entry.key}`
    if (found.some((other) => other !== entry && other.scope === entry.scope && other.key === entry.key)) {
      plan.kept.push({file, line: entry.line, reason: `${entry.scope}${entry.key} is set more than once in the file: keep one, then run --fix again`})
      continue
    }
    const registry = entry.scope.slice(2, -1).replace(/\/$/, '')
    plan.moves.push(
      moveOf({
        what: `npm ${entry.key === '_authToken' ? 'token' : 'credential'}`,
        file,
        findingLines: [entry.line],
        title: `npm ${entry.key === '_authToken' ? 'token' : entry.key === '_auth' ? 'login' : 'password'} for ${registry}`,
        secret: {variable, value: entry.value},
        program: 'npm',
        hookCommands: ['npm publish'],
      }),
    )
  }
  return plan
}

/**
 * `~/.pypirc`: twine takes `TWINE_PASSWORD` before the file's password, for whichever repository it
 * uploads to. So only a file whose one password is `[pypi]`'s can move: with two, one variable
 * would send the same token to both repositories.
 */
const planPypirc: FilePlanner = (file, lines) => {
  const sections = sectionsOf(lines)
  const found = valueLines(lines, CREDENTIAL_LINES.pypirc)
  if (found.length === 1 && sections[found[0]!.line - 1] === 'pypi') {
    const [{line, value}] = found as [{line: number; value: string}]
    return {
      moves: [
        moveOf({
          what: 'PyPI password or token',
          file,
          findingLines: [line],
          title: `PyPI ${value.startsWith('pypi-') ? 'token' : 'password'} for [pypi]`,
          secret: {variable: 'TWINE_PASSWORD', value},
          program: 'twine',
          hookCommands: ['twine'],
        }),
      ],
      kept: [],
    }
  }
  const reason = found.length === 1
    ? 'twine uses TWINE_PASSWORD for every repository, its default [pypi] included: only [pypi]\'s password is moved'
    : 'twine takes one TWINE_PASSWORD for every repository, and this file has a password for several'
  return {moves: [], kept: found.map(({line}) => ({file, line, reason}))}
}

/**
 * The GitHub CLI's `hosts.yml`: `GH_TOKEN` wins over it for github.com. Newer gh writes the token
 * twice (under `users:` and beside `user:`); both lines go. GitHub Enterprise hosts stay: their
 * variable, `GH_ENTERPRISE_TOKEN`, would stand for every one of them.
 */
const planGhHosts: FilePlanner = (file, lines) => {
  let host: string | undefined
  const hosts = lines.map((text) => {
    // A host is a key at the first column; its settings are indented below it.
    const key = /^([^\s#][^:]*):\s*$/.exec(text)
    if (key) host = key[1]
    else if (/^[^\s#]/.test(text)) host = undefined
    return host
  })
  const found = valueLines(lines, CREDENTIAL_LINES.ghHosts).map((entry) => ({...entry, host: hosts[entry.line - 1]}))
  const github = found.filter((entry) => entry.host === 'github.com')
  const others = found.filter((entry) => entry.host !== 'github.com')
  const plan: FilePlan = {moves: [], kept: others.map(({line}) => ({file, line, reason: 'only github.com\'s token is moved: GH_ENTERPRISE_TOKEN would stand for every GitHub Enterprise host'}))}
  if (github.length === 0) return plan
  if (new Set(github.map((entry) => entry.value)).size > 1 || github.some((entry) => /^["']/.test(entry.value))) {
    plan.kept.push(...github.map(({line}) => ({file, line, reason: 'github.com has tokens of more than one account here: GH_TOKEN can hold one (gh auth switch, gh auth logout the others)'})))
    return plan
  }
  const user = lines.find((text, index) => hosts[index] === 'github.com' && /^\s+user:\s*\S+\s*$/.test(text))?.split(':')[1]?.trim()
  plan.moves.push(
    moveOf({
      what: 'GitHub CLI token',
      file,
      findingLines: github.map((entry) => entry.line),
      title: `GitHub CLI token for github.com${user ? ` (${user})` : ''}`,
      secret: {variable: 'GH_TOKEN', value: github[0]!.value},
      program: 'gh',
      hookCommands: ['gh'],
    }),
  )
  return plan
}

/**
 * cargo's `credentials.toml` (or the older `credentials`): `CARGO_REGISTRY_TOKEN` for crates.io's
 * `[registry]`, `CARGO_REGISTRIES_<NAME>_TOKEN` for `[registries.<name>]`, each winning over the file.
 */
const planCargo: FilePlanner = (file, lines) => {
  const sections = sectionsOf(lines)
  const plan: FilePlan = {moves: [], kept: []}
  for (const {line, value} of valueLines(lines, CREDENTIAL_LINES.cargo)) {
    const section = sections[line - 1]
    const registry = section === 'registry' ? undefined : /^registries\.([A-Za-z0-9_-]+)$/.exec(section ?? '')?.[1]
    if (section !== 'registry' && registry === undefined) {
      plan.kept.push({file, line, reason: `cargo reads no token from [${section ?? ''}] through a variable secure knows`})
      continue
    }
    const variable = registry === undefined ? 'CARGO_REGISTRY_TOKEN' : `CARGO_REGISTRIES_${registry.toUpperCase().replaceAll('-', '_')}_TOKEN`
    const title = registry === undefined ? 'crates.io token' : `cargo token for registry ${registry}`
    plan.moves.push(moveOf({what: 'crates.io token', file, findingLines: [line], title, secret: {variable, value}, program: 'cargo', hookCommands: ['cargo publish']}))
  }
  return plan
}

/**
 * `~/.aws/credentials`: the AWS CLI and SDKs take `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
 * before the file whenever no profile is named, so only `[default]`'s long-lived key moves (both
 * lines). Temporary credentials (with a session token) expire anyway and stay.
 */
const planAws: FilePlanner = (file, lines) => {
  const sections = sectionsOf(lines)
  const plan: FilePlan = {moves: [], kept: []}
  for (const {line, value} of valueLines(lines, CREDENTIAL_LINES.awsSecret)) {
    const section = sections[line - 1]
    const inSection = (pattern: RegExp) => lines.flatMap((text, index) => (sections[index] === section ? [{line: index + 1, match: pattern.exec(text)}] : [])).filter((entry) => entry.match)
    const keyIds = inSection(/^\s*aws_access_key_id\s*=\s*(\S+)\s*$/)
    const reason =
      section !== 'default'
        ? 'only [default] is moved: the variables would apply to every command that names no profile'
        : inSection(/^\s*aws_session_token\s*=/).length > 0
          ? 'these are temporary credentials (aws_session_token): they expire by themselves'
          : keyIds.length !== 1 || inSection(CREDENTIAL_LINES.awsSecret).length !== 1
            ? '[default] should hold one aws_access_key_id and one aws_secret_access_key'
            : undefined
    if (reason !== undefined) {
      plan.kept.push({file, line, reason})
      continue
    }
    const keyId = keyIds[0]!
    plan.moves.push(
      moveOf({
        what: 'AWS secret access key',
        file,
        findingLines: [line],
        removedLines: [line, keyId.line].sort((a, b) => a - b),
        title: 'AWS access key (default profile)',
        secret: {variable: 'AWS_SECRET_ACCESS_KEY', value},
        details: [{label: 'access key id', variable: 'AWS_ACCESS_KEY_ID', value: keyId.match![1]!}],
        program: 'aws',
        hookCommands: ['aws'],
      }),
    )
  }
  return plan
}
