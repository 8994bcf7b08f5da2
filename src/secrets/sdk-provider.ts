import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {EnvironmentError, SecureError} from '../errors.js'
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

/**
 * How the SDK authenticates. `token` and `account` come from the environment and the user's config;
 * either may be missing, which is reported as a user error before the SDK is loaded.
 */
export type SdkAuth = {kind: 'service-account'; token: string | undefined} | {kind: 'desktop'; account: string | undefined}

/** The part of an SDK error class `secure` relies on: `instanceof`. */
type SdkErrorClass = abstract new (...arguments_: never[]) => Error

/** The part of `@1password/sdk`'s `DesktopAuth` `secure` relies on. */
export interface SdkDesktopAuth {
  accountName: string
}

/** What `createClient` is called with: always the integration's name and version. */
export interface SdkClientConfiguration {
  auth: string | SdkDesktopAuth
  integrationName: string
  integrationVersion: string
}

/** One entry of `ResolveAllResponse.individualResponses` (shared/reference/onepassword.md §2). */
export interface SdkResolveResponse {
  content?: {secret: string}
  error?: {type: string; message?: string}
}

/** The part of the SDK's `Client` that `secure` calls. The real `Client` is assignable to it. */
export interface SdkClient {
  secrets: {
    resolveAll(references: string[]): Promise<{individualResponses: Record<string, SdkResolveResponse>}>
  }
  vaults: {
    list(): Promise<ReadonlyArray<{id: string; title: string}>>
  }
  items: {
    list(vaultId: string): Promise<ReadonlyArray<{id: string; title: string; state?: string}>>
    get(vaultId: string, itemId: string): Promise<{title: string; fields: ReadonlyArray<{title: string; value: string}>; notes: string}>
    create(params: SdkItemCreateParams): Promise<{id: string; vaultId: string; fields: ReadonlyArray<{id: string; title: string}>}>
  }
}

/**
 * The part of the SDK's `ItemCreateParams` that `secure` sends. `category` and `fieldType` are the
 * SDK's string enums `ItemCategory` and `ItemFieldType`, written as their values (`Password`,
 * `Concealed`, `Text`) so that building a call needs no import of the SDK.
 */
export interface SdkItemCreateParams {
  category: string
  vaultId: string
  title: string
  fields?: Array<{id: string; title: string; fieldType: string; value: string; sectionId?: string}>
  sections?: Array<{id: string; title: string}>
}

/**
 * The minimal structural type of `@1password/sdk` that {@link SdkProvider} uses, so tests can pass a
 * small fake module instead of mocking the import. The real module is assignable to it.
 */
export interface SdkModule {
  createClient(configuration: SdkClientConfiguration): Promise<SdkClient>
  /** Must be the module's own class: the SDK tells desktop auth apart with `instanceof`. */
  DesktopAuth: new (accountName: string) => SdkDesktopAuth
  DesktopSessionExpiredError: SdkErrorClass
  RateLimitExceededError: SdkErrorClass
  AuthExpiredError: SdkErrorClass
}

/** What {@link SdkProvider} is built from. */
export interface SdkProviderOptions {
  auth: SdkAuth
  /** Reported to 1Password with the integration name `secure`. */
  integrationVersion: string
  /** Loads the SDK. Default: a lazy `import('@1password/sdk')`. A seam for tests. */
  loadSdk?: () => Promise<SdkModule>
  /** Where the desktop app's native library may be. Default: {@link defaultDesktopLibraryPaths}. */
  desktopLibraryPaths?: readonly string[]
  /** Default: `fs.existsSync`. */
  fileExists?: (path: string) => boolean
  /**
   * Wall-clock limit of one operation (client creation included), in milliseconds. Default 30000.
   * The SDK sets no limit of its own: a request that never answers leaves `createClient` pending
   * forever (measured with a stalled `fetch`), so `secure` must end the wait itself.
   */
  timeoutMs?: number
}

const INTEGRATION_NAME = 'secure'
const DEFAULT_TIMEOUT_MS = 30_000

/**
 * The places the SDK looks for the desktop app's native library (`libop_sdk_ipc_client`), the same
 * list as `find1PasswordLibPath` in the SDK's `shared_lib_core.js` (shared/reference/onepassword.md §2.2).
 */
export function defaultDesktopLibraryPaths(platform: NodeJS.Platform = process.platform, home: string = homedir()): readonly string[] {
  switch (platform) {
    case 'darwin': {
      return [
        '/Applications/1Password.app/Contents/Frameworks/libop_sdk_ipc_client.dylib',
        join(home, 'Applications/1Password.app/Contents/Frameworks/libop_sdk_ipc_client.dylib'),
      ]
    }
    case 'linux': {
      return ['/usr/bin/1password/libop_sdk_ipc_client.so', '/opt/1Password/libop_sdk_ipc_client.so', '/snap/bin/1password/libop_sdk_ipc_client.so']
    }
    case 'win32': {
      return [
        join(home, 'AppData/Local/1Password/op_sdk_ipc_client.dll'),
        'C:/Program Files/1Password/app/8/op_sdk_ipc_client.dll',
        'C:/Program Files (x86)/1Password/app/8/op_sdk_ipc_client.dll',
        join(home, 'AppData/Local/1Password/app/8/op_sdk_ipc_client.dll'),
      ]
    }
    default: {
      return []
    }
  }
}

/**
 * Short reasons for `ResolveReferenceError.type` (shared/reference/onepassword.md §2). `parsing` is
 * handled apart, with the SDK's own message. `unableToGenerateTotpCode` carries a message too, left
 * out: it is about the OTP secret and nothing in it helps more than the reason.
 */
const RESOLVE_REASONS: Readonly<Record<string, string>> = {
  fieldNotFound: 'field not found',
  vaultNotFound: 'vault not found',
  tooManyVaults: 'more than one vault matches',
  itemNotFound: 'item not found',
  tooManyItems: 'more than one item matches',
  tooManyMatchingFields: 'more than one field matches',
  noMatchingSections: 'section not found',
  incompatibleTOTPQueryParameterField: '?attribute=otp on a field that is not a one-time password',
  unableToGenerateTotpCode: 'cannot generate a one-time password',
  sSHKeyMetadataNotFound: 'not an SSH key',
  unsupportedFileFormat: 'only text files can be read',
  incompatibleSshKeyQueryParameterField: '?ssh-format on a field that is not an SSH private key',
  unableToParsePrivateKey: 'cannot parse the private key',
  unableToFormatPrivateKeyToOpenSsh: 'cannot convert the private key to OpenSSH format',
  other: '1Password could not resolve it',
}

/**
 * A {@link SecretProvider} over `@1password/sdk`. The SDK is imported only when a secret is first
 * needed (its 14 MB WebAssembly core costs 60–90 ms and ~80 MB, onepassword.md §1), one client is
 * created per provider and every reference of a run goes through one `resolveAll` (one credential
 * exchange, one batch: §1, §7.2). Everything a user can get wrong (no token, no app, no account) is
 * checked before the SDK is loaded.
 */
export class SdkProvider implements SecretProvider {
  private readonly auth: SdkAuth
  private readonly integrationVersion: string
  private readonly loadSdk: () => Promise<SdkModule>
  private readonly desktopLibraryPaths: readonly string[]
  private readonly fileExists: (path: string) => boolean
  private readonly timeoutMs: number
  private sdk: SdkModule | undefined
  private client: Promise<SdkClient> | undefined

  constructor(options: SdkProviderOptions) {
    this.auth = options.auth
    this.integrationVersion = options.integrationVersion
    this.loadSdk = options.loadSdk ?? importSdk
    this.desktopLibraryPaths = options.desktopLibraryPaths ?? defaultDesktopLibraryPaths()
    this.fileExists = options.fileExists ?? existsSync
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  async resolveAll(references: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const unique = [...new Set(references)]
    verifyReferencesAreValid(unique, 'sdk')
    if (unique.length === 0) return new Map()

    const response = await this.withClient((client) => client.secrets.resolveAll(unique))
    const values = new Map<string, string>()
    const failures: ReferenceFailure[] = []
    for (const reference of unique) {
      const answer = response.individualResponses[reference]
      if (answer?.error !== undefined) failures.push({reference, reason: resolveReason(answer.error)})
      else if (typeof answer?.content?.secret === 'string') values.set(reference, answer.content.secret)
      else failures.push({reference, reason: 'no answer from 1Password'})
    }
    if (failures.length > 0) throw new SecretResolutionError(failures)
    return values
  }

  async findItem(vault: string, titles: readonly string[]): Promise<DirectoryItem | undefined> {
    if (titles.length === 0) return undefined
    // Titles such as `~/src/project` cannot be written as references (onepassword.md §2.3), so the
    // item is found by listing: vaults.list → items.list → items.get (§2, three round trips).
    return this.withClient(async (client) => {
      const vaults = await client.vaults.list()
      const found = vaults.find((candidate) => candidate.id === vault) ?? vaults.find((candidate) => candidate.title === vault)
      if (found === undefined) {
        throw new EnvironmentError(`1Password vault "${oneLine(vault)}" not found`, {
          code: 'OP_VAULT_NOT_FOUND',
          hint:
            this.auth.kind === 'service-account'
              ? 'check the vault name in the config; a service account sees only the vaults it was granted'
              : 'check the vault name in the config (as shown in the 1Password app), or use its ID',
        })
      }
      // items.list never returns values (§2); archived items are not meant to be used.
      const overviews = (await client.items.list(found.id)).filter((overview) => overview.state !== 'archived')
      for (const title of titles) {
        const overview = overviews.find((candidate) => candidate.title === title)
        if (overview === undefined) continue
        // By ID: two items may share a title, and a title may hold any character.
        const item = await client.items.get(found.id, overview.id)
        const fields: Array<{label: string; value: string}> = []
        for (const field of item.fields) {
          // Same rule as the op CLI provider: an unlabelled or empty field cannot become a variable.
          if (field.title === '' || typeof field.value !== 'string' || field.value === '') continue
          fields.push({label: field.title, value: field.value})
        }
        if (typeof item.notes === 'string' && item.notes !== '') fields.push({label: 'notesPlain', value: item.notes})
        return {title, fields}
      }
      return undefined
    })
  }

  async listVaults(): Promise<readonly VaultSummary[]> {
    return this.withClient(async (client) => (await client.vaults.list()).map(({id, title}) => ({id, title})))
  }

  async createItem(item: NewItem): Promise<CreatedItem> {
    const details = item.details ?? []
    return this.withClient(
      async (client) => {
        const created = await client.items.create({
          category: 'Password',
          vaultId: item.vaultId,
          title: item.title,
          fields: [
            // The Password category's built-in field: the one field that needs no section.
            {id: 'password', title: 'password', fieldType: 'Concealed', value: item.secret},
            ...details.map((detail) => ({id: detailFieldId(detail.label), title: detail.label, fieldType: 'Text', value: detail.value, sectionId: DETAILS_SECTION})),
          ],
          sections: details.length > 0 ? [{id: DETAILS_SECTION, title: DETAILS_SECTION}] : [],
        })
        return createdItemReferences(item, created.vaultId, created.id, created.fields.map((field) => ({id: field.id, label: field.title})))
      },
      [item.secret, ...details.map((detail) => detail.value)],
    )
  }

  /**
   * Runs `work` with the client, within the time limit, and turns whatever the SDK throws into one
   * {@link EnvironmentError} a user can act on, with `secrets` (values `work` sends) removed from it.
   */
  private async withClient<T>(work: (client: SdkClient) => Promise<T>, secrets: readonly string[] = []): Promise<T> {
    const pending = (async () => {
      try {
        return await work(await this.getClient())
      } catch (error) {
        throw this.translate(error, secrets)
      }
    })()
    // The SDK cannot be cancelled: after a timeout its promise lives on, and must not end up as an
    // unhandled rejection.
    pending.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      // Not unref'd: a stalled request may hold nothing else that keeps the process alive.
      timer = setTimeout(() => reject(this.timeoutError()), this.timeoutMs)
    })
    try {
      return await Promise.race([pending, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The one client of this provider, created on first use. A failed creation may be retried. */
  private getClient(): Promise<SdkClient> {
    if (this.client === undefined) {
      this.client = this.createClient()
      this.client.catch(() => {
        this.client = undefined
      })
    }
    return this.client
  }

  private async createClient(): Promise<SdkClient> {
    // Checked before the SDK is loaded: each is the user's to fix, and loading costs 60–90 ms.
    const auth = this.checkAuth()
    const sdk = await this.loadSdk()
    this.sdk = sdk
    return sdk.createClient({
      // `instanceof DesktopAuth` is how the SDK chooses the app over a token (§2.1).
      auth: auth.kind === 'desktop' ? new sdk.DesktopAuth(auth.account) : auth.token,
      integrationName: INTEGRATION_NAME,
      integrationVersion: this.integrationVersion,
    })
  }

  private checkAuth(): {kind: 'service-account'; token: string} | {kind: 'desktop'; account: string} {
    if (this.auth.kind === 'service-account') {
      const token = this.auth.token?.trim() ?? ''
      if (token === '') {
        throw new EnvironmentError('no 1Password service account token', {
          code: 'OP_NO_TOKEN',
          hint: 'set OP_SERVICE_ACCOUNT_TOKEN, or set auth = "desktop" in the config to use the 1Password app',
        })
      }
      return {kind: 'service-account', token}
    }
    // Without the app's native library the SDK prints a stack trace to stderr itself, then fails
    // with "Native library is not available." (§2.2): look for it first, as the SDK does.
    if (!this.desktopLibraryPaths.some((path) => this.fileExists(path))) {
      throw new EnvironmentError('the 1Password app (with its SDK integration) is not installed', {
        code: 'OP_DESKTOP_APP_MISSING',
        hint: 'install the 1Password app and enable Settings → Developer → "Integrate with the 1Password SDKs", or set auth = "service-account" and OP_SERVICE_ACCOUNT_TOKEN',
      })
    }
    const account = this.auth.account?.trim() ?? ''
    // An empty account name silently turns DesktopAuth into "no authentication" in the SDK (§2.1).
    if (account === '') {
      throw new EnvironmentError('no 1Password account set for desktop authentication', {
        code: 'OP_NO_ACCOUNT',
        hint: 'set account = "..." in the config: the account name shown top-left in the 1Password app',
      })
    }
    return {kind: 'desktop', account}
  }

  private timeoutError(): EnvironmentError {
    return new EnvironmentError(`1Password did not answer within ${formatDuration(this.timeoutMs)}`, {
      code: 'OP_TIMEOUT',
      hint:
        this.auth.kind === 'desktop'
          ? 'the 1Password app may be waiting for your approval: unlock it, approve, then retry'
          : 'check the network connection (and any proxy or VPN), then retry',
    })
  }

  /** Sorts an SDK failure into an error a user can act on. Never quotes the token, nor `sent` (values of the call). */
  private translate(error: unknown, sent: readonly string[]): SecureError {
    if (error instanceof SecureError) return error
    const desktop = this.auth.kind === 'desktop'
    const secrets = [...sent, ...(this.auth.kind === 'service-account' && this.auth.token !== undefined ? [this.auth.token, this.auth.token.trim()] : [])]
    const detail = oneLine(redact(messageOf(error), secrets))
    // For --debug: the SDK's message only, redacted; its own object could hold anything.
    const cause = new Error(detail)
    const is = (errorClass: SdkErrorClass | undefined): boolean => errorClass !== undefined && error instanceof errorClass

    if (is(this.sdk?.RateLimitExceededError) || /rate limit exceeded/i.test(detail)) {
      return new EnvironmentError('1Password rate limit reached', {
        code: 'OP_RATE_LIMITED',
        hint: 'service accounts are limited per hour (1,000 reads on Teams and Families, 10,000 on Business) and per day: wait, and see "op service-account ratelimit"',
        cause,
      })
    }
    if (is(this.sdk?.DesktopSessionExpiredError) || (desktop && (is(this.sdk?.AuthExpiredError) || /\block(?:ed)?\b|unlock|session expired|not authenticated/i.test(detail)))) {
      return new EnvironmentError('the 1Password app is locked', {code: 'OP_LOCKED', hint: 'unlock the 1Password app and retry', cause})
    }
    if (/native library is not available|desktop application not found/i.test(detail)) {
      return new EnvironmentError('cannot load the 1Password app\'s SDK integration', {
        code: 'OP_DESKTOP_APP_MISSING',
        hint: 'reinstall or update the 1Password app and enable Settings → Developer → "Integrate with the 1Password SDKs", or use a service account',
        cause,
      })
    }
    if (desktop && /account (?:couldn't|could not|can't|cannot) be found|no (?:such )?account/i.test(detail)) {
      return new EnvironmentError('the 1Password app has no such account', {
        code: 'OP_ACCOUNT_NOT_FOUND',
        hint: 'set account = "..." in the config to the account name shown top-left in the 1Password app, or its ID',
        cause,
      })
    }
    // Before the token checks: without network the core says "authentication error: … error sending request".
    if (/error sending request|request timeout|timed? ?out|fetch failed|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|dns|network/i.test(detail)) {
      return new EnvironmentError(`cannot reach 1Password (${lastClause(detail)})`, {
        code: 'OP_NO_NETWORK',
        hint: 'check the network connection (and any proxy or VPN), then retry',
        cause,
      })
    }
    if (!desktop && /invalid service account token|service account token had invalid format/i.test(detail)) {
      // The core decodes the token locally and rejects it in ~7 ms (§2.1).
      return new EnvironmentError(`the 1Password service account token is malformed (${lastClause(detail)})`, {
        code: 'OP_BAD_TOKEN',
        hint: 'copy the whole token (it starts with "ops_") into OP_SERVICE_ACCOUNT_TOKEN again, or create a new one',
        cause,
      })
    }
    // Measured with the real core and a stubbed fetch: at sign-in, HTTP 401 → "authentication error: you
    // are not authenticated", 403 → "…: you don't have the right permissions…", 404 → "…: resource not
    // found", 429 → "…: rate limit exceeded", 500 → "…: internal server error", 503 → "…: unexpected
    // status code in response: 503 Service Unavailable". Only the first three are about the token.
    if (/internal server error|unexpected status code in response: 5\d\d/i.test(detail)) {
      return new EnvironmentError(`1Password's servers failed (${lastClause(detail)})`, {
        code: 'OP_FAILED',
        hint: 'retry in a while; https://status.1password.com reports outages',
        cause,
      })
    }
    if (
      !desktop &&
      (is(this.sdk?.AuthExpiredError) ||
        /bad service account token|not authenticated|unauthori[sz]ed|authentication error: (?:you don't have the right permissions|resource not found)/i.test(detail))
    ) {
      return new EnvironmentError(`1Password rejected the service account token (${lastClause(detail)})`, {
        code: 'OP_BAD_TOKEN',
        hint: 'the token may have expired or been revoked: create a new one, or set auth = "desktop" in the config to use the 1Password app',
        cause,
      })
    }
    if (/don't have the right permissions|forbidden|permission denied/i.test(detail)) {
      return new EnvironmentError('1Password denied access', {
        code: 'OP_ACCESS_DENIED',
        hint: desktop ? 'check that this account can read the vault' : 'grant the service account access to the vault, or use a token that has it',
        cause,
      })
    }
    return new EnvironmentError(`1Password SDK failed: ${detail}`, {
      code: 'OP_FAILED',
      hint: 'retry; if it keeps failing, run with --debug, or set provider = "op" in the config to use the 1Password CLI',
      cause,
    })
  }
}

/** The lazy import of the real SDK: CommonJS, but its named exports are visible to `import()`. */
async function importSdk(): Promise<SdkModule> {
  return import('@1password/sdk')
}

function resolveReason(error: {type: string; message?: string}): string {
  if (error.type === 'parsing') {
    const message = typeof error.message === 'string' ? oneLine(unwrapJson(error.message)) : ''
    return message === '' ? 'invalid reference' : `invalid reference: ${message.replace(/^the secret reference could not be parsed:\s*/i, '')}`
  }
  return RESOLVE_REASONS[error.type] ?? `1Password could not resolve it (${oneLine(error.type)})`
}

/**
 * The text of whatever the SDK threw. Its core reports `{name, message}` as a JSON string; most
 * calls turn it into an Error, but some throw the raw string (onepassword.md §2.3).
 */
function messageOf(error: unknown): string {
  if (typeof error === 'string') return unwrapJson(error)
  if (error instanceof Error) return unwrapJson(error.message)
  return 'no error message'
}

/** `{"name":…,"message":"…"}` → the message; anything else unchanged. */
function unwrapJson(text: string): string {
  if (!text.trimStart().startsWith('{')) return text
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as {message?: unknown}).message === 'string') {
      return (parsed as {message: string}).message
    }
  } catch {
    // Not JSON after all.
  }
  return text
}

/** Removes the token, and anything shaped like a service account token, from a message. */
function redact(text: string, secrets: readonly string[]): string {
  return redactValues(text, secrets).replaceAll(/ops_[A-Za-z0-9+/=_-]{8,}/g, 'ops_[redacted]')
}

/** One line without control characters, capped for a message. */
function oneLine(text: string): string {
  return capDetail(stripControlCharacters(text).replaceAll(/\s+/g, ' ').trim())
}

/** The most specific part of a core message ("a: b: c" → "c"), without "please create another token". */
function lastClause(detail: string): string {
  const clause = detail
    .split(/:\s+/)
    .at(-1)!
    .replace(/,?\s*please (?:create another token|rotate it)\.?$/i, '')
    .trim()
  return clause === '' ? detail : clause
}

