import {randomBytes} from 'node:crypto'

import {execa} from 'execa'

import {BugError, EnvironmentError} from '../errors.js'
import {capDetail, formatDuration, redactValues, stripControlCharacters} from './message-text.js'
import {
  type CreatedItem,
  DETAILS_SECTION,
  type DirectoryItem,
  type NewItem,
  type ReferenceFailure,
  type SecretProvider,
  SecretResolutionError,
  type VaultSummary,
  createdItemReferences,
  detailFieldId,
  verifyReferencesAreValid,
} from './provider.js'

/** How to reach the 1Password CLI. */
export interface OpCliProviderOptions {
  /** The `op` executable: a name looked up on the environment's PATH, or a path. Default `op`. */
  opCommand?: string
  /** Passed to every `op` call as `--account`, for users signed in to more than one account. */
  account?: string
  /**
   * The whole environment `op` runs with (nothing else is inherited). It must carry what `op`
   * authenticates with: `OP_SERVICE_ACCOUNT_TOKEN`, `OP_SESSION_*`, `OP_CONNECT_*`, plus `PATH`/`HOME`.
   */
  environment: Readonly<Record<string, string | undefined>>
  /**
   * Wall-clock limit per `op` process, in milliseconds. Default 60000. `op` has no `--no-prompt`:
   * it can wait forever for an approval in the 1Password app, so a hang must end.
   */
  timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 60_000
/** `op read` processes started at once while diagnosing a failed `op inject`. */
const DIAGNOSTIC_CONCURRENCY = 8

/**
 * A {@link SecretProvider} over the 1Password CLI. Every reference of a run is resolved by one
 * `op inject` (one process, one sign-in, one round of network calls) instead of one `op read` each,
 * which is about ten times slower (shared/reference/onepassword.md §3.5, cachix/secretspec#317).
 * Secrets travel only through pipes: the template on stdin, the values on stdout, nothing in argv
 * or on disk.
 */
export class OpCliProvider implements SecretProvider {
  private readonly opCommand: string
  private readonly accountArguments: readonly string[]
  private readonly environment: Readonly<Record<string, string | undefined>>
  private readonly timeoutMs: number

  constructor(options: OpCliProviderOptions) {
    this.opCommand = options.opCommand ?? 'op'
    this.accountArguments = options.account === undefined ? [] : ['--account', options.account]
    this.environment = options.environment
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  async resolveAll(references: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const unique = [...new Set(references)]
    verifyReferencesAreValid(unique, 'op')
    if (unique.length === 0) return new Map()

    const nonce = randomBytes(16).toString('hex')
    const result = await this.runOp(['inject', ...this.accountArguments], {input: buildInjectTemplate(unique, nonce)})
    if (result.exitCode === 0) {
      const values = parseInjectOutput(result.stdout, nonce, unique.length)
      return new Map(unique.map((reference, index) => [reference, values[index]!]))
    }

    const failure = classifyOpFailure(result.stderr)
    if (failure.kind === 'environment') throw failure.error(result.cause)
    // An unknown message that names a reference is still about one: its own op read will say more.
    if (failure.kind === 'unknown' && !result.stderr.includes('op://')) throw opFailed('inject', failure.detail, result.cause)
    // op inject names only the first bad reference: ask about each one to name them all.
    await this.diagnose(unique)
    // Every reference resolves on its own: whatever broke op inject is not a reference.
    throw opFailed('inject', failure.detail, result.cause)
  }

  async findItem(vault: string, titles: readonly string[]): Promise<DirectoryItem | undefined> {
    if (titles.length === 0) return undefined
    const listed = await this.runOpJson(['item', 'list', '--vault', vault, '--format', 'json', ...this.accountArguments], vault)
    if (!Array.isArray(listed)) throw unexpectedOutput('item list')
    const overviews = listed.filter(isItemOverview)
    for (const title of titles) {
      const overview = overviews.find((candidate) => candidate.title === title)
      if (overview === undefined) continue
      // By ID: a title may hold characters op cannot parse, and two items may share it.
      const item = await this.runOpJson(['item', 'get', overview.id, '--vault', vault, '--format', 'json', ...this.accountArguments], vault)
      return {title, fields: fieldsOf(item)}
    }
    return undefined
  }

  async listVaults(): Promise<readonly VaultSummary[]> {
    const listed = await this.runOpJson(['vault', 'list', '--format', 'json', ...this.accountArguments], '')
    if (!Array.isArray(listed)) throw unexpectedOutput('vault list')
    return listed.flatMap((vault: unknown) => {
      const {id, name} = (typeof vault === 'object' && vault !== null ? vault : {}) as Record<string, unknown>
      return typeof id === 'string' && typeof name === 'string' ? [{id, title: name}] : []
    })
  }

  /**
   * `op item create` with the item as a JSON template on stdin (op reads it from `-`): the secret
   * never reaches op's argv, where any process could read it, nor a file.
   */
  async createItem(item: NewItem): Promise<CreatedItem> {
    const details = item.details ?? []
    const template = {
      title: item.title,
      category: 'PASSWORD',
      ...(details.length > 0 ? {sections: [{id: DETAILS_SECTION, label: DETAILS_SECTION}]} : {}),
      fields: [
        {id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password', value: item.secret},
        ...details.map((detail) => ({id: detailFieldId(detail.label), section: {id: DETAILS_SECTION}, type: 'STRING', label: detail.label, value: detail.value})),
      ],
    }
    const created = await this.runOpJson(['item', 'create', '--vault', item.vaultId, '--format', 'json', ...this.accountArguments, '-'], item.vaultId, {
      input: JSON.stringify(template),
      secrets: [item.secret, ...details.map((detail) => detail.value)],
    })
    const record = (typeof created === 'object' && created !== null ? created : {}) as Record<string, unknown>
    const vault = (typeof record.vault === 'object' && record.vault !== null ? record.vault : {}) as Record<string, unknown>
    if (typeof record.id !== 'string' || typeof vault.id !== 'string' || !Array.isArray(record.fields)) throw unexpectedOutput('item create')
    const fields = record.fields.flatMap((field: unknown) => {
      const {id, label} = (typeof field === 'object' && field !== null ? field : {}) as Record<string, unknown>
      return typeof id === 'string' ? [{id, label: typeof label === 'string' ? label : ''}] : []
    })
    return createdItemReferences(item, vault.id, record.id, fields)
  }

  /**
   * Reads each reference on its own, in parallel, to find every one that fails. The values are never
   * read: stdout is ignored. Throws {@link SecretResolutionError} listing the failures, or the first
   * environment error (not signed in, offline, …) since that explains every failure at once.
   */
  private async diagnose(references: readonly string[]): Promise<void> {
    const failures: ReferenceFailure[] = []
    let environmentError: EnvironmentError | undefined
    await forEachConcurrently(references, DIAGNOSTIC_CONCURRENCY, async (reference) => {
      let result: OpResult
      try {
        result = await this.runOp(['read', '--no-newline', reference, ...this.accountArguments], {stdout: 'ignore'})
      } catch (error) {
        if (!(error instanceof EnvironmentError)) throw error
        environmentError ??= error
        return
      }
      if (result.exitCode === 0) return
      const failure = classifyOpFailure(result.stderr)
      if (failure.kind === 'environment') environmentError ??= failure.error(result.cause)
      else if (failure.kind === 'reference') failures.push({reference, reason: failure.reason})
      else failures.push({reference, reason: `op failed: ${failure.detail.replace(/^could not read secret '[^'\n]*': /, '')}`})
    })
    if (environmentError !== undefined) throw environmentError
    if (failures.length > 0) {
      failures.sort((a, b) => references.indexOf(a.reference) - references.indexOf(b.reference))
      throw new SecretResolutionError(failures)
    }
  }

  /**
   * Runs an `op item …` or `op vault …` command and parses its JSON; a missing vault is reported by
   * name. `secrets`, values sent on stdin, are removed from whatever op says when it fails.
   */
  private async runOpJson(arguments_: readonly string[], vault: string, stdin: {input: string; secrets: readonly string[]} | undefined = undefined): Promise<unknown> {
    const subcommand = `${arguments_[0]} ${arguments_[1]}`
    const ran = await this.runOp(arguments_, stdin === undefined ? {} : {input: stdin.input})
    const result =
      stdin === undefined || ran.exitCode === 0
        ? ran
        : {...ran, stderr: redactValues(ran.stderr, stdin.secrets), cause: ran.cause && new Error(redactValues(ran.cause.message, stdin.secrets))}
    if (result.exitCode !== 0) {
      const failure = classifyOpFailure(result.stderr)
      if (failure.kind === 'environment') throw failure.error(result.cause)
      if (failure.kind === 'reference' && failure.reason === 'vault not found') {
        throw new EnvironmentError(`1Password vault "${vault}" not found`, {
          code: 'OP_VAULT_NOT_FOUND',
          hint: 'check the vault name in the config; "op vault list" shows the vaults this account can read',
          cause: result.cause,
        })
      }
      throw opFailed(subcommand, failure.kind === 'reference' ? failure.reason : failure.detail, result.cause)
    }
    try {
      return JSON.parse(result.stdout) as unknown
    } catch {
      // Never quote the output: `op item get` prints secret values.
      throw unexpectedOutput(subcommand)
    }
  }

  /**
   * Starts one `op` process. Returns its exit code and output when it ran (whatever the code);
   * throws {@link EnvironmentError} when it could not start or did not finish in time.
   */
  private async runOp(
    arguments_: readonly string[],
    io: {input?: string; stdout?: 'ignore'},
  ): Promise<OpResult> {
    const subcommand = arguments_[0] === 'item' || arguments_[0] === 'vault' ? `${arguments_[0]} ${arguments_[1]}` : arguments_[0]!
    const result = await execa(this.opCommand, arguments_, {
      env: this.environment,
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
      timeout: this.timeoutMs,
      forceKillAfterDelay: 2000,
      ...(io.input === undefined ? {stdin: 'ignore' as const} : {input: io.input}),
      stdout: io.stdout ?? 'pipe',
      stderr: 'pipe',
    })
    if (result.timedOut) {
      throw new EnvironmentError(`1Password CLI ("op ${subcommand}") did not answer within ${formatDuration(this.timeoutMs)}`, {
        code: 'OP_TIMEOUT',
        hint: 'op may be waiting for approval in the 1Password app: unlock it or run "op signin", then retry',
      })
    }
    const code = 'code' in result && typeof result.code === 'string' ? result.code : undefined
    if (code === 'ENOENT') {
      throw new EnvironmentError(`1Password CLI not found: cannot run "${this.opCommand}"`, {
        code: 'OP_NOT_FOUND',
        hint: 'install the 1Password CLI (https://developer.1password.com/docs/cli/get-started/) or set provider = "sdk" in the config',
      })
    }
    if (code !== undefined && result.exitCode === undefined) {
      throw new EnvironmentError(`cannot run the 1Password CLI ("${this.opCommand}"): ${code}`, {
        code: 'OP_FAILED',
        hint: 'check that the 1Password CLI is installed and executable, or set provider = "sdk" in the config',
      })
    }
    const stderr = typeof result.stderr === 'string' ? result.stderr : ''
    const stdout = typeof result.stdout === 'string' ? result.stdout : ''
    if (result.exitCode === undefined) {
      // Killed by a signal that was not our timeout.
      const detail = `op ${subcommand} was killed by ${result.signal ?? 'a signal'}`
      return {exitCode: -1, stdout: '', stderr: stderr === '' ? detail : stderr, cause: new Error(detail)}
    }
    // The cause is printed with --debug: op's stderr only, never its stdout (values) or stdin (template).
    const cause = result.exitCode === 0 ? undefined : new Error(`op ${subcommand} exited with code ${result.exitCode}: ${stripControlCharacters(stderr).slice(0, 2000)}`)
    return {exitCode: result.exitCode, stdout, stderr, cause}
  }
}

/** What one `op` process left behind. */
interface OpResult {
  exitCode: number
  stdout: string
  stderr: string
  /** A description of the failure for `--debug`, free of secret values. */
  cause: Error | undefined
}

/**
 * The stdin of `op inject`: each reference enclosed as `{{ op://… }}` on a line of its own, between
 * the lines `<nonce>:<index>:begin` and `<nonce>:<index>:end`. See {@link parseInjectOutput}.
 */
export function buildInjectTemplate(references: readonly string[], nonce: string): string {
  return references.map((reference, index) => `${nonce}:${index}:begin\n{{ ${reference} }}\n${nonce}:${index}:end\n`).join('')
}

/**
 * The values `op inject` put in place of the references of {@link buildInjectTemplate}, in order.
 *
 * Unambiguous without lengths or escaping: the nonce is 32 hex digits drawn afresh for every call,
 * so no value can contain it except by a 2^-128 accident, and this is checked rather than assumed.
 * The delimiter lines hold the nonce exactly 2 × count times; an occurrence cannot straddle a
 * delimiter and a value, because the nonce is hex and every delimiter line is bounded by "\n" and
 * ":". So exactly 2 × count occurrences in the output means no value contains the nonce; each
 * value then runs from the end of its begin line to the next "\n<nonce>:<index>:end\n", which
 * cannot lie inside the value. Anything else is refused with {@link BugError}, never guessed at.
 */
export function parseInjectOutput(output: string, nonce: string, count: number): string[] {
  const refuse = (why: string): never => {
    // Never quote the output: it holds secret values.
    throw new BugError(`cannot parse the output of "op inject": ${why}`, {
      code: 'OP_INJECT_UNPARSEABLE',
      hint: 'run "op --version" and report it; setting provider = "sdk" in the config avoids op inject',
    })
  }
  if (!/^[0-9a-f]{32}$/.test(nonce)) refuse('the delimiter is not a 128-bit hex nonce')
  // Tolerate an op that drops the template's final newline.
  const text = output === '' || output.endsWith('\n') ? output : `${output}\n`
  if (text.split(nonce).length - 1 !== 2 * count) refuse('the delimiter lines are missing, repeated or inside a value')
  const values: string[] = []
  let cursor = 0
  for (let index = 0; index < count; index++) {
    const begin = `${nonce}:${index}:begin\n`
    if (!text.startsWith(begin, cursor)) refuse(`the begin line of value ${index} is missing`)
    const start = cursor + begin.length
    const end = `\n${nonce}:${index}:end\n`
    const endAt = text.indexOf(end, start)
    if (endAt === -1) refuse(`the end line of value ${index} is missing`)
    values.push(text.slice(start, endAt))
    cursor = endAt + end.length
  }
  if (cursor !== text.length) refuse('there is text after the last value')
  return values
}

/** Why an `op` process failed, read from its stderr. */
export type OpFailure =
  | {kind: 'reference'; reason: string; detail: string}
  | {kind: 'environment'; error: (cause?: unknown) => EnvironmentError; detail: string}
  | {kind: 'unknown'; detail: string}

const REFERENCE_REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/isn't a vault|more than one vault matches/i, 'vault not found'],
  [/more than one item matches/i, 'more than one item matches'],
  [/isn't an item/i, 'item not found'],
  [/does not have a section|could not find section|isn't a section/i, 'section not found'],
  [/does not have a field|could not find field|isn't a field/i, 'field not found'],
  [/invalid secret reference|could not parse (?:the )?secret reference|invalid character in secret reference/i, 'invalid reference'],
  [/\(403\)|forbidden|not authorized to access|don't have (?:the right )?permission/i, 'access denied'],
]

const ENVIRONMENT_FAILURES: ReadonlyArray<readonly [RegExp, (cause?: unknown) => EnvironmentError]> = [
  [
    /not currently signed in|account is not signed in|no accounts? configured|no account found|session (?:has )?expired|could not find session token|sign ?in to create a new session|authorization (?:timeout|prompt dismissed|denied)|connecting to desktop app|RequestDelegatedSession/i,
    (cause) =>
      new EnvironmentError('1Password CLI is not signed in', {
        code: 'OP_NOT_SIGNED_IN',
        hint: 'run "op signin" or unlock the 1Password app',
        cause,
      }),
  ],
  [
    /service account token|DecodeSACredentials|SACredentials|invalid bearer token|\(401\)|unauthorized/i,
    (cause) =>
      new EnvironmentError('1Password refused the service account token', {
        code: 'OP_BAD_TOKEN',
        hint: 'check OP_SERVICE_ACCOUNT_TOKEN (create a new token if it was revoked), or unset it to use the 1Password app',
        cause,
      }),
  ],
  [
    /too many requests|\(429\)|rate[- ]?limit/i,
    (cause) =>
      new EnvironmentError('1Password rate limit reached', {
        code: 'OP_RATE_LIMITED',
        hint: 'wait and retry; "op service-account ratelimit" shows what a service account has left',
        cause,
      }),
  ],
  [
    /dial tcp|no such host|connection refused|connection reset|network is unreachable|timeout|timed out|deadline exceeded|tls handshake/i,
    (cause) =>
      new EnvironmentError('cannot reach 1Password', {
        code: 'OP_NO_NETWORK',
        hint: 'check the network connection (and any proxy or VPN), then retry',
        cause,
      }),
  ],
]

/**
 * Sorts op's stderr into a problem with one reference, a problem with the environment, or unknown.
 * Quoted names and the `could not read secret '…'` prefix are removed first, so that a vault called
 * "timeout" is not taken for a network failure.
 */
export function classifyOpFailure(stderr: string): OpFailure {
  const detail = firstLine(stderr)
  const neutral = stripControlCharacters(stderr)
    .replaceAll(/could not get item [^\n]*?: /g, '')
    .replaceAll(/item '[^'\n]*'/g, 'item')
    // Quoted names only: the apostrophe of "isn't" or "You've" opens no quote.
    .replaceAll(/(?<![A-Za-z])(?:'[^'\n]*'|"[^"\n]*")(?![A-Za-z])/g, '""')
  for (const [pattern, reason] of REFERENCE_REASONS) {
    if (pattern.test(neutral)) return {kind: 'reference', reason, detail}
  }
  for (const [pattern, error] of ENVIRONMENT_FAILURES) {
    if (pattern.test(neutral)) return {kind: 'environment', error, detail}
  }
  return {kind: 'unknown', detail}
}

/** op's first non-empty stderr line, without its `[ERROR] date time` prefix, capped for a one-line message. */
function firstLine(stderr: string): string {
  const line = stripControlCharacters(stderr)
    .split('\n')
    .map((candidate) => candidate.replace(/^\[(?:ERROR|WARN|INFO)\]\s*(?:\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\s*)?/, '').trim())
    .find((candidate) => candidate !== '')
  return capDetail(line ?? '')
}

function opFailed(subcommand: string, detail: string, cause: unknown): EnvironmentError {
  return new EnvironmentError(`1Password CLI failed ("op ${subcommand}"): ${detail}`, {
    code: 'OP_FAILED',
    hint: 'run the same "op" command yourself to see the whole error, or set provider = "sdk" in the config',
    cause,
  })
}

function unexpectedOutput(subcommand: string): EnvironmentError {
  return new EnvironmentError(`1Password CLI ("op ${subcommand}") printed output that is not the expected JSON`, {
    code: 'OP_FAILED',
    hint: 'update the 1Password CLI ("op --version" should be 2.x), or set provider = "sdk" in the config',
  })
}

function isItemOverview(value: unknown): value is {id: string; title: string} {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record.id === 'string' && typeof record.title === 'string'
}

/** The labelled fields of `op item get --format json`, notes included as `notesPlain`. */
function fieldsOf(item: unknown): Array<{label: string; value: string}> {
  if (typeof item !== 'object' || item === null) throw unexpectedOutput('item get')
  const record = item as Record<string, unknown>
  const fields: Array<{label: string; value: string}> = []
  let hasNotes = false
  for (const field of Array.isArray(record.fields) ? record.fields : []) {
    if (typeof field !== 'object' || field === null) continue
    const {id, label, value, purpose} = field as Record<string, unknown>
    const isNotes = purpose === 'NOTES' || id === 'notesPlain'
    const name = isNotes ? 'notesPlain' : label
    if (typeof name !== 'string' || name === '' || typeof value !== 'string' || value === '') continue
    hasNotes ||= isNotes
    fields.push({label: name, value})
  }
  // Older op versions put the notes beside the fields instead of among them.
  if (!hasNotes && typeof record.notesPlain === 'string' && record.notesPlain !== '') {
    fields.push({label: 'notesPlain', value: record.notesPlain})
  }
  return fields
}


/** Runs `task` on every item, at most `limit` at a time, and waits for all of them. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
}
