import {lookup} from 'node:dns/promises'
import {existsSync} from 'node:fs'

import {afterEach, beforeAll, describe, expect, it, vi} from 'vitest'

import {EnvironmentError} from '../../src/errors.js'
import {SecretResolutionError} from '../../src/secrets/provider.js'
import {
  defaultDesktopLibraryPaths,
  type SdkAuth,
  type SdkClient,
  type SdkItemCreateParams,
  type SdkModule,
  SdkProvider,
  type SdkProviderOptions,
  type SdkResolveResponse,
} from '../../src/secrets/sdk-provider.js'

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
})

/** Runs `promise`, expecting it to reject, and returns the rejection. */
async function failureOf(promise: Promise<unknown>): Promise<EnvironmentError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentError)
    return error as EnvironmentError
  }
  throw new Error('expected a rejection')
}

/** Every user-facing part of an error: none may hold the token, and the message is one line. */
function expectOneLineWithout(error: EnvironmentError, secret: string): void {
  expect(error.message).not.toMatch(/\n/)
  expect(error.hint ?? '').not.toMatch(/\n/)
  for (const text of [error.message, error.hint ?? '', String((error.cause as Error | undefined)?.message ?? '')]) {
    expect(text).not.toContain(secret)
  }
}

/**
 * A service account token that the SDK's core decodes and accepts locally: `ops_` + unpadded
 * base64url of the JSON `ServiceAccountCredentials` (8 fields named in the core; `throttleSecret`
 * is optional; `email` must be an address, `secretKey` an A3 key, `muk` a 256-bit JWK, `srpX` hex,
 * `userAuth` needs method/alg/iterations/salt). Its keys are made up, so no server would accept
 * it: what matters is that createClient gets past local validation and tries the network at
 * `https://<signInAddress>/api/v3/auth/start`.
 */
function craftedToken(signInAddress: string): string {
  const credentials = {
    signInAddress,
    email: 'secure-test@example.com',
    secretKey: 'A3-ABCDEF-GHJKLM-NPQRS-TVWXY-Z2345-6789A',
    srpX: 'a'.repeat(64),
    muk: {alg: 'A256GCM', ext: true, k: Buffer.alloc(32, 7).toString('base64url'), key_ops: ['encrypt', 'decrypt'], kty: 'oct', kid: 'mp'},
    userAuth: {method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650_000, salt: Buffer.alloc(16, 1).toString('base64url')},
    deviceUuid: 'abcdefghijklmnopqrstuvwxyz',
  }
  return `ops_${Buffer.from(JSON.stringify(credentials)).toString('base64url')}`
}

describe('SdkProvider with the real SDK', () => {
  it('reports a malformed token as OP_BAD_TOKEN, without the token, in milliseconds', async () => {
    const token = 'ops_this-is-not-a-real-token'
    const provider = new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'})
    const started = performance.now()
    const error = await failureOf(provider.resolveAll(['op://vault/item/password']))
    const elapsed = performance.now() - started
    expect(error.code).toBe('OP_BAD_TOKEN')
    // The SDK's own words: "invalid service account token, please make sure you provide a valid service
    // account token as parameter:  service account token base64 decoding failed, please create another token".
    expect(error.message).toBe('the 1Password service account token is malformed (service account token base64 decoding failed)')
    expectOneLineWithout(error, token)
    // Import (60-90 ms of WebAssembly) plus local decoding; no network involved.
    expect(elapsed).toBeLessThan(5000)
  })

  it('reports a token without the ops_ prefix as OP_BAD_TOKEN', async () => {
    const token = 'not-even-prefixed'
    const error = await failureOf(new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'}).resolveAll(['op://v/i/f']))
    expect(error.code).toBe('OP_BAD_TOKEN')
    // "invalid user input: encountered the following errors: service account token had invalid format"
    expect(error.message).toBe('the 1Password service account token is malformed (service account token had invalid format)')
    expectOneLineWithout(error, token)
  })

  it.each([
    ['a name that never resolves (DNS failure)', 'secure-test.invalid'],
    ['a closed port (connection refused)', '127.0.0.1:1'],
  ])('reports an unreachable server as OP_NO_NETWORK: %s', async (_name, address) => {
    const token = craftedToken(address)
    const provider = new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'})
    const started = performance.now()
    const error = await failureOf(provider.resolveAll(['op://vault/item/password']))
    const elapsed = performance.now() - started
    // The core's words: "authentication error: request library compatibility issue, …: reqwest library: error sending request".
    expect(error.code).toBe('OP_NO_NETWORK')
    expect(error.message).toBe('cannot reach 1Password (error sending request)')
    expectOneLineWithout(error, token)
    // Measured: 110-190 ms. The SDK does not retry a failed request.
    expect(elapsed).toBeLessThan(10_000)
  })

  describe('with 1Password\'s real address', () => {
    let online = false
    beforeAll(async () => {
      online = await lookup('my.1password.com').then(
        () => true,
        () => false,
      )
    })

    it('reports OP_NO_NETWORK when my.1password.com cannot be reached', async (context) => {
      // With network the server answers instead, and rejects the made-up credentials.
      if (online) context.skip()
      const token = craftedToken('my.1password.com')
      const error = await failureOf(new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'}).resolveAll(['op://v/i/f']))
      expect(error.code).toBe('OP_NO_NETWORK')
      expectOneLineWithout(error, token)
    })
  })

  it('ends a stalled request with OP_TIMEOUT (the SDK alone would wait forever)', async () => {
    // The core looks `fetch` up on every request, so a fetch that never settles stalls the real SDK.
    vi.stubGlobal('fetch', () => new Promise(() => {}))
    const token = craftedToken('my.1password.com')

    const sdk = await import('@1password/sdk')
    const bare = sdk.createClient({auth: token, integrationName: 'secure', integrationVersion: 'test'})
    bare.catch(() => {})
    const outcome = await Promise.race([bare.then(() => 'settled', () => 'settled'), new Promise((resolve) => setTimeout(resolve, 1000, 'pending'))])
    expect(outcome).toBe('pending')

    const provider = new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test', timeoutMs: 300})
    const started = performance.now()
    const error = await failureOf(provider.resolveAll(['op://vault/item/password']))
    expect(error.code).toBe('OP_TIMEOUT')
    expect(error.message).toBe('1Password did not answer within 300 ms')
    expect(performance.now() - started).toBeLessThan(2000)
    expectOneLineWithout(error, token)
  })

  it.each([
    [401, 'OP_BAD_TOKEN', '1Password rejected the service account token (you are not authenticated)'],
    [403, 'OP_BAD_TOKEN', "1Password rejected the service account token (you don't have the right permissions to access this resource)"],
    [429, 'OP_RATE_LIMITED', '1Password rate limit reached'],
    [500, 'OP_FAILED', "1Password's servers failed (internal server error)"],
    [503, 'OP_FAILED', "1Password's servers failed (503 Service Unavailable)"],
  ])('maps HTTP %i at sign-in, as the real core reports it, to %s', async (status, code, message) => {
    // A server stand-in: the core sends its requests through the global fetch. The url must be set,
    // or the core throws "url parse" out of band and the process dies.
    vi.stubGlobal('fetch', async (request: Request) => {
      const response = new Response('{}', {status, headers: {'content-type': 'application/json'}})
      Object.defineProperty(response, 'url', {value: request.url})
      return response
    })
    const token = craftedToken('my.1password.com')
    const error = await failureOf(new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'}).resolveAll(['op://v/i/f']))
    expect(error.code).toBe(code)
    expect(error.message).toBe(message)
    expectOneLineWithout(error, token)
  })

  describe('desktop authentication without the 1Password app', () => {
    const appInstalled = defaultDesktopLibraryPaths().some((path) => existsSync(path))

    it.skipIf(appInstalled)('the SDK itself would print a stack trace to stderr (why secure probes first)', async () => {
      const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
      const sdk = await import('@1password/sdk')
      const error = await sdk.createClient({auth: new sdk.DesktopAuth('my'), integrationName: 'secure', integrationVersion: 'test'}).then(
        () => undefined,
        (error_: unknown) => error_,
      )
      expect((error as Error).message).toBe('Native library is not available.')
      expect(printed).toHaveBeenCalledWith('A critical error occurred while loading the native addon:', expect.any(Error))
    })

    it.skipIf(appInstalled)('reports OP_DESKTOP_APP_MISSING and prints nothing', async () => {
      const consoleError = vi.spyOn(console, 'error')
      const stderr = vi.spyOn(process.stderr, 'write')
      const provider = new SdkProvider({auth: {kind: 'desktop', account: 'my'}, integrationVersion: 'test'})
      const error = await failureOf(provider.resolveAll(['op://vault/item/password']))
      expect(error.code).toBe('OP_DESKTOP_APP_MISSING')
      expect(error.hint).toContain('Settings → Developer → "Integrate with the 1Password SDKs"')
      expect(error.hint).toContain('service-account')
      expect(consoleError).not.toHaveBeenCalled()
      expect(stderr).not.toHaveBeenCalled()
    })
  })
})

class FakeDesktopAuth {
  constructor(public accountName: string) {}
}
class FakeDesktopSessionExpiredError extends Error {}
class FakeRateLimitExceededError extends Error {}
class FakeAuthExpiredError extends Error {}

interface FakeSdk {
  module: SdkModule
  loads: number
  configurations: unknown[]
  resolveAllCalls: string[][]
  itemsGetCalls: Array<[string, string]>
  itemsCreateCalls: SdkItemCreateParams[]
}

/** A fake `@1password/sdk` whose client does what `client` says; the rest throws. */
function fakeSdk(client: Partial<{[K in keyof SdkClient]: Partial<SdkClient[K]>}> = {}, createClient?: () => Promise<void>): FakeSdk {
  const fake: FakeSdk = {
    loads: 0,
    configurations: [],
    resolveAllCalls: [],
    itemsGetCalls: [],
    itemsCreateCalls: [],
    module: {
      async createClient(configuration) {
        fake.configurations.push(configuration)
        await createClient?.()
        return {
          secrets: {
            async resolveAll(references) {
              fake.resolveAllCalls.push([...references])
              if (client.secrets?.resolveAll === undefined) throw new Error('resolveAll not faked')
              return client.secrets.resolveAll(references)
            },
          },
          vaults: {list: client.vaults?.list ?? (async () => [])},
          items: {
            list: client.items?.list ?? (async () => []),
            async get(vaultId, itemId) {
              fake.itemsGetCalls.push([vaultId, itemId])
              if (client.items?.get === undefined) throw new Error('items.get not faked')
              return client.items.get(vaultId, itemId)
            },
            async create(params) {
              fake.itemsCreateCalls.push(params)
              if (client.items?.create === undefined) throw new Error('items.create not faked')
              return client.items.create(params)
            },
          },
        }
      },
      DesktopAuth: FakeDesktopAuth,
      DesktopSessionExpiredError: FakeDesktopSessionExpiredError,
      RateLimitExceededError: FakeRateLimitExceededError,
      AuthExpiredError: FakeAuthExpiredError,
    },
  }
  return fake
}

const TOKEN = 'ops_fake-token-for-tests-0123456789'

function providerWith(fake: FakeSdk, options: Partial<SdkProviderOptions> & {auth?: SdkAuth} = {}): SdkProvider {
  return new SdkProvider({
    auth: {kind: 'service-account', token: TOKEN},
    integrationVersion: '1.2.3',
    desktopLibraryPaths: ['/app/libop_sdk_ipc_client.so'],
    fileExists: () => true,
    ...options,
    loadSdk: async () => {
      fake.loads++
      return fake.module
    },
  })
}

function answers(entries: Record<string, SdkResolveResponse>) {
  return async () => ({individualResponses: entries})
}

describe('SdkProvider.resolveAll', () => {
  it('resolves every reference in one resolveAll call, with one client', async () => {
    const fake = fakeSdk({
      secrets: {
        resolveAll: async (references) => ({
          individualResponses: Object.fromEntries(references.map((reference) => [reference, {content: {secret: `value of ${reference}`}}])),
        }),
      },
    })
    const provider = providerWith(fake)
    const values = await provider.resolveAll(['op://v/a/password', 'op://v/b/token', 'op://v/a/password'])
    expect([...values]).toEqual([
      ['op://v/a/password', 'value of op://v/a/password'],
      ['op://v/b/token', 'value of op://v/b/token'],
    ])
    expect(fake.resolveAllCalls).toEqual([['op://v/a/password', 'op://v/b/token']])
    expect(fake.configurations).toEqual([{auth: TOKEN, integrationName: 'secure', integrationVersion: '1.2.3'}])

    await provider.resolveAll(['op://v/c/field'])
    expect(fake.loads).toBe(1)
    expect(fake.configurations).toHaveLength(1)
  })

  it('keeps an empty value', async () => {
    const fake = fakeSdk({secrets: {resolveAll: answers({'op://v/i/f': {content: {secret: ''}}})}})
    expect(await providerWith(fake).resolveAll(['op://v/i/f'])).toEqual(new Map([['op://v/i/f', '']]))
  })

  it('loads nothing for no references', async () => {
    const fake = fakeSdk()
    expect(await providerWith(fake, {auth: {kind: 'service-account', token: undefined}}).resolveAll([])).toEqual(new Map())
    expect(fake.loads).toBe(0)
  })

  it('names every invalid reference before loading the SDK', async () => {
    const fake = fakeSdk()
    const error = await failureOf(providerWith(fake).resolveAll(['op://v/i/f', 'op://v/i', 'op://v/i/f?attr=otp']))
    expect(error).toBeInstanceOf(SecretResolutionError)
    expect((error as SecretResolutionError).failures.map((failure) => failure.reference)).toEqual(['op://v/i', 'op://v/i/f?attr=otp'])
    expect(fake.loads).toBe(0)
  })

  it('lists every failing reference with a short reason, and returns no partial map', async () => {
    const fake = fakeSdk({
      secrets: {
        resolveAll: answers({
          'op://v/ok/f': {content: {secret: 'fine'}},
          'op://v/i/missing': {error: {type: 'fieldNotFound'}},
          'op://nope/i/f': {error: {type: 'vaultNotFound'}},
          'op://v/gone/f': {error: {type: 'itemNotFound'}},
          'op://v/dup/f': {error: {type: 'tooManyItems'}},
          'op://dup/i/f': {error: {type: 'tooManyVaults'}},
          'op://v/i/otp?attribute=otp': {error: {type: 'unableToGenerateTotpCode', message: 'secret is not base32'}},
          'op://v/i/bad': {
            error: {type: 'parsing', message: '{"name":"ParsingSecretReference","message":"the secret reference could not be parsed: invalid character in secret reference"}'},
          },
          'op://v/i/new': {error: {type: 'somethingNew'}},
        }),
      },
    })
    const references = [
      'op://v/ok/f',
      'op://v/i/missing',
      'op://nope/i/f',
      'op://v/gone/f',
      'op://v/dup/f',
      'op://dup/i/f',
      'op://v/i/otp?attribute=otp',
      'op://v/i/bad',
      'op://v/i/new',
      'op://v/i/unanswered',
    ]
    const error = await failureOf(providerWith(fake).resolveAll(references))
    expect(error).toBeInstanceOf(SecretResolutionError)
    expect(error.code).toBe('SECRET_UNRESOLVED')
    expect((error as SecretResolutionError).failures).toEqual([
      {reference: 'op://v/i/missing', reason: 'field not found'},
      {reference: 'op://nope/i/f', reason: 'vault not found'},
      {reference: 'op://v/gone/f', reason: 'item not found'},
      {reference: 'op://v/dup/f', reason: 'more than one item matches'},
      {reference: 'op://dup/i/f', reason: 'more than one vault matches'},
      {reference: 'op://v/i/otp?attribute=otp', reason: 'cannot generate a one-time password'},
      {reference: 'op://v/i/bad', reason: 'invalid reference: invalid character in secret reference'},
      {reference: 'op://v/i/new', reason: '1Password could not resolve it (somethingNew)'},
      {reference: 'op://v/i/unanswered', reason: 'no answer from 1Password'},
    ])
    expect(error.message).not.toContain('fine')
    expect(fake.resolveAllCalls).toHaveLength(1)
  })
})

describe('SdkProvider errors before the SDK is loaded', () => {
  it.each([undefined, '', '  \n'])('OP_NO_TOKEN for a token of %j', async (token) => {
    const fake = fakeSdk()
    const error = await failureOf(providerWith(fake, {auth: {kind: 'service-account', token}}).resolveAll(['op://v/i/f']))
    expect(error.code).toBe('OP_NO_TOKEN')
    expect(error.message).toBe('no 1Password service account token')
    expect(error.hint).toContain('OP_SERVICE_ACCOUNT_TOKEN')
    expect(error.hint).toContain('auth = "desktop"')
    expect(fake.loads).toBe(0)
  })

  it('OP_DESKTOP_APP_MISSING when no native library path exists, probing each', async () => {
    const fake = fakeSdk()
    const probed: string[] = []
    const provider = providerWith(fake, {
      auth: {kind: 'desktop', account: 'my'},
      desktopLibraryPaths: ['/a/lib.so', '/b/lib.so'],
      fileExists: (path) => {
        probed.push(path)
        return false
      },
    })
    const error = await failureOf(provider.findItem('v', ['~/src/project']))
    expect(error.code).toBe('OP_DESKTOP_APP_MISSING')
    expect(probed).toEqual(['/a/lib.so', '/b/lib.so'])
    expect(fake.loads).toBe(0)
  })

  it.each([undefined, ''])('OP_NO_ACCOUNT for desktop auth with an account of %j', async (account) => {
    const fake = fakeSdk()
    const error = await failureOf(providerWith(fake, {auth: {kind: 'desktop', account}}).resolveAll(['op://v/i/f']))
    expect(error.code).toBe('OP_NO_ACCOUNT')
    expect(error.hint).toContain('account = "..."')
    expect(error.hint).toContain('top-left')
    expect(fake.loads).toBe(0)
  })

  it('passes the account to the SDK\'s own DesktopAuth', async () => {
    const fake = fakeSdk({secrets: {resolveAll: answers({'op://v/i/f': {content: {secret: 's'}}})}})
    await providerWith(fake, {auth: {kind: 'desktop', account: 'My Team'}}).resolveAll(['op://v/i/f'])
    const auth = (fake.configurations[0] as {auth: unknown}).auth
    expect(auth).toBeInstanceOf(FakeDesktopAuth)
    expect(auth).toEqual({accountName: 'My Team'})
  })
})

describe('SdkProvider errors from the SDK', () => {
  /** The error a provider reports when the client's resolveAll throws `thrown`. */
  async function reported(thrown: unknown, auth?: SdkAuth): Promise<EnvironmentError> {
    const fake = fakeSdk({
      secrets: {
        resolveAll: async () => {
          throw thrown
        },
      },
    })
    return failureOf(providerWith(fake, auth === undefined ? {} : {auth}).resolveAll(['op://v/i/f']))
  }

  it('RateLimitExceededError → OP_RATE_LIMITED', async () => {
    const error = await reported(new FakeRateLimitExceededError('rate limit exceeded'))
    expect(error.code).toBe('OP_RATE_LIMITED')
    expect(error.hint).toContain('op service-account ratelimit')
    expect(error.hint).toMatch(/per hour/)
  })

  it('DesktopSessionExpiredError → OP_LOCKED', async () => {
    const error = await reported(new FakeDesktopSessionExpiredError('session expired'), {kind: 'desktop', account: 'my'})
    expect(error.code).toBe('OP_LOCKED')
    expect(error.hint).toBe('unlock the 1Password app and retry')
  })

  it('a locked app → OP_LOCKED', async () => {
    expect((await reported(new Error('the 1Password app is locked'), {kind: 'desktop', account: 'my'})).code).toBe('OP_LOCKED')
  })

  it('a server that refuses the token → OP_BAD_TOKEN', async () => {
    const error = await reported(new Error('authentication error: you are not authenticated'))
    expect(error.code).toBe('OP_BAD_TOKEN')
    expect(error.message).toBe('1Password rejected the service account token (you are not authenticated)')
  })

  it('AuthExpiredError with a service account → OP_BAD_TOKEN', async () => {
    expect((await reported(new FakeAuthExpiredError('auth expired'))).code).toBe('OP_BAD_TOKEN')
  })

  it.each(['request timeout', 'authentication error: request library compatibility issue: reqwest library: error sending request', 'getaddrinfo ENOTFOUND my.1password.com'])(
    '%j → OP_NO_NETWORK',
    async (message) => {
      expect((await reported(new Error(message))).code).toBe('OP_NO_NETWORK')
    },
  )

  it('permissions → OP_ACCESS_DENIED', async () => {
    expect((await reported(new Error("you don't have the right permissions to access this resource"))).code).toBe('OP_ACCESS_DENIED')
  })

  it('anything else → OP_FAILED, on one line, without the token', async () => {
    const error = await reported(new Error(`internal error\n  while using ${TOKEN}\tand ops_SomeOtherTokenLikeThing123`))
    expect(error.code).toBe('OP_FAILED')
    expect(error.message).toBe('1Password SDK failed: internal error while using [redacted] and ops_[redacted]')
    expectOneLineWithout(error, TOKEN)
  })

  it('a raw JSON string thrown by the core is unwrapped', async () => {
    const error = await reported('{"name":"Internal","message":"something odd happened"}')
    expect(error.code).toBe('OP_FAILED')
    expect(error.message).toBe('1Password SDK failed: something odd happened')
  })

  it('errors of client creation are translated too, and the creation is retried on the next call', async () => {
    let attempts = 0
    const fake = fakeSdk({secrets: {resolveAll: answers({'op://v/i/f': {content: {secret: 's'}}})}}, async () => {
      attempts++
      if (attempts === 1) throw new Error('request timeout')
    })
    const provider = providerWith(fake)
    expect((await failureOf(provider.resolveAll(['op://v/i/f']))).code).toBe('OP_NO_NETWORK')
    expect(await provider.resolveAll(['op://v/i/f'])).toEqual(new Map([['op://v/i/f', 's']]))
    expect(attempts).toBe(2)
  })

  it('a client that never comes → OP_TIMEOUT, with a desktop hint about approval', async () => {
    const fake = fakeSdk({}, () => new Promise(() => {}))
    const error = await failureOf(providerWith(fake, {auth: {kind: 'desktop', account: 'my'}, timeoutMs: 50}).resolveAll(['op://v/i/f']))
    expect(error.code).toBe('OP_TIMEOUT')
    expect(error.message).toBe('1Password did not answer within 50 ms')
    expect(error.hint).toMatch(/approv/)
  })
})

describe('SdkProvider.findItem', () => {
  function itemsFake() {
    return fakeSdk({
      vaults: {
        list: async () => [
          {id: 'vault-other', title: 'Other'},
          {id: 'vault-dev', title: 'Dev'},
        ],
      },
      items: {
        list: async (vaultId) =>
          vaultId === 'vault-dev'
            ? [
                {id: 'item-old', title: '~/src/project', state: 'archived'},
                {id: 'item-parent', title: '~/src'},
                {id: 'item-project', title: '~/src/project', state: 'active'},
              ]
            : [],
        get: async (_vaultId, itemId) => ({
          title: itemId,
          fields: [
            {title: 'NPM_TOKEN', value: 'npm-secret'},
            {title: '', value: 'unlabelled'},
            {title: 'EMPTY', value: ''},
            {title: 'GITHUB_TOKEN', value: 'gh-secret'},
          ],
          notes: itemId === 'item-project' ? 'some notes' : '',
        }),
      },
    })
  }

  it('finds the first title, in the order given, in a vault named by title', async () => {
    const fake = itemsFake()
    const item = await providerWith(fake).findItem('Dev', ['~/src/project', '~/src'])
    expect(item).toEqual({
      title: '~/src/project',
      fields: [
        {label: 'NPM_TOKEN', value: 'npm-secret'},
        {label: 'GITHUB_TOKEN', value: 'gh-secret'},
        {label: 'notesPlain', value: 'some notes'},
      ],
    })
    // The archived item of the same title is skipped; items are fetched by ID.
    expect(fake.itemsGetCalls).toEqual([['vault-dev', 'item-project']])
  })

  it('accepts a vault ID and falls back to later titles', async () => {
    const fake = itemsFake()
    const item = await providerWith(fake).findItem('vault-dev', ['~/src/project/sub', '~/src'])
    expect(item).toEqual({title: '~/src', fields: [{label: 'NPM_TOKEN', value: 'npm-secret'}, {label: 'GITHUB_TOKEN', value: 'gh-secret'}]})
  })

  it('returns undefined when no title matches', async () => {
    const fake = itemsFake()
    expect(await providerWith(fake).findItem('Dev', ['~/elsewhere'])).toBeUndefined()
    expect(fake.itemsGetCalls).toEqual([])
  })

  it('returns undefined for no titles without loading the SDK', async () => {
    const fake = itemsFake()
    expect(await providerWith(fake).findItem('Dev', [])).toBeUndefined()
    expect(fake.loads).toBe(0)
  })

  it('reports a missing vault as OP_VAULT_NOT_FOUND', async () => {
    const error = await failureOf(providerWith(itemsFake()).findItem('Nope', ['~/src']))
    expect(error.code).toBe('OP_VAULT_NOT_FOUND')
    expect(error.message).toBe('1Password vault "Nope" not found')
  })

  it('shares the client with resolveAll', async () => {
    const fake = itemsFake()
    const provider = providerWith(fake)
    await provider.findItem('Dev', ['~/src'])
    await provider.findItem('Dev', ['~/src/project'])
    expect(fake.configurations).toHaveLength(1)
  })
})

describe('SdkProvider.createItem and listVaults', () => {
  const created = {id: 'newitemid00000000000000000', vaultId: 'vault-dev', fields: [{id: 'password', title: 'password'}, {id: 'access_key_id', title: 'access key id'}]}

  it('creates a Password item, details in a section, and returns references by ID', async () => {
    const fake = fakeSdk({items: {create: async () => created}})

    const item = await providerWith(fake).createItem({vaultId: 'vault-dev', title: 'AWS access key', secret: 'the-secret', details: [{label: 'access key id', value: 'AKIA1'}]})

    expect(fake.itemsCreateCalls).toEqual([
      {
        category: 'Password',
        vaultId: 'vault-dev',
        title: 'AWS access key',
        fields: [
          {id: 'password', title: 'password', fieldType: 'Concealed', value: 'the-secret'},
          {id: 'access_key_id', title: 'access key id', fieldType: 'Text', value: 'AKIA1', sectionId: 'details'},
        ],
        sections: [{id: 'details', title: 'details'}],
      },
    ])
    expect(item).toEqual({secretReference: 'op://vault-dev/newitemid00000000000000000/password', detailReferences: ['op://vault-dev/newitemid00000000000000000/access_key_id']})
  })

  it('finds a field by its title when the SDK gives it another ID', async () => {
    const fake = fakeSdk({items: {create: async () => ({...created, fields: [{id: 'xyz123', title: 'password'}]})}})
    const item = await providerWith(fake).createItem({vaultId: 'vault-dev', title: 'npm', secret: 's3cret'})
    expect(item.secretReference).toBe('op://vault-dev/newitemid00000000000000000/xyz123')
  })

  it('never repeats the values it sent in an error', async () => {
    const fake = fakeSdk({items: {create: async () => Promise.reject(new Error('invalid user input: field value "the-secret-value" and "AKIA-detail" rejected'))}})
    const error = await failureOf(providerWith(fake).createItem({vaultId: 'v', title: 't', secret: 'the-secret-value', details: [{label: 'key', value: 'AKIA-detail'}]}))
    expect(error.code).toBe('OP_FAILED')
    expectOneLineWithout(error, 'the-secret-value')
    expectOneLineWithout(error, 'AKIA-detail')
  })

  it('lists vaults by ID and title', async () => {
    const fake = fakeSdk({vaults: {list: async () => [{id: 'v1', title: 'Private'}, {id: 'v2', title: 'Work'}]}})
    expect(await providerWith(fake).listVaults()).toEqual([{id: 'v1', title: 'Private'}, {id: 'v2', title: 'Work'}])
  })
})
