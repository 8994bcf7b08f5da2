import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {execa} from 'execa'
import fc from 'fast-check'
import {afterEach, describe, expect, it} from 'vitest'

import {BugError, EnvironmentError, SecureError} from '../../src/errors.js'
import {buildInjectTemplate, classifyOpFailure, OpCliProvider, parseInjectOutput} from '../../src/secrets/op-cli-provider.js'
import {SecretResolutionError} from '../../src/secrets/provider.js'
import {createOpDouble, type OpDouble, type OpDoubleOptions, type OpDoubleVaults, opDoubleCommand, sampleVaultFile} from '../helpers/op-double.js'

const sample = JSON.parse(await readFile(sampleVaultFile, 'utf8')) as OpDoubleVaults
/** Every value in the sample data: none may ever appear in an argv or an error. */
const sampleSecrets = sample.vaults.flatMap((vault) =>
  vault.items.flatMap((item) => [...item.fields.map((field) => field.value ?? ''), item.notesPlain ?? '']),
).filter((value) => value.trim().length >= 4)

const doubles: OpDouble[] = []
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((double) => double.cleanup()))
})

/** Given the op double with `options`, a provider that runs it through PATH. */
async function givenProvider(options: OpDoubleOptions & {account?: string; timeoutMs?: number} = {}) {
  const double = await createOpDouble(options)
  doubles.push(double)
  const provider = new OpCliProvider({environment: double.environment, account: options.account, timeoutMs: options.timeoutMs})
  return {double, provider}
}

async function caught(promise: Promise<unknown>): Promise<SecureError> {
  const error = await promise.then(
    () => undefined,
    (error_: unknown) => error_,
  )
  expect(error).toBeInstanceOf(SecureError)
  return error as SecureError
}

function expectOneLineWithoutSecrets(error: SecureError) {
  expect(error.message).not.toMatch(/[\n\r\u001B]/)
  expect(error.message).not.toMatch(/\s+at .+:\d+:\d+/)
  expect(error.message.length).toBeLessThan(400)
  expect(error.hint).toBeTruthy()
  expect(error.hint).not.toMatch(/\n/)
  for (const secret of sampleSecrets) expect(error.message).not.toContain(secret)
}

describe('OpCliProvider.resolveAll', () => {
  it('resolves every reference with one op inject process', async () => {
    // Given
    const {double, provider} = await givenProvider()
    const references = ['op://Private/npm/credential', 'op://private/GITHUB/password', 'op://hu5ekhd4ogjxa6lqcgsztoyu4e/npm/username', 'op://Private/GitHub/Recovery/recovery codes']

    // When
    const values = await provider.resolveAll(references)

    // Then
    expect(Object.fromEntries(values)).toEqual({
      'op://Private/npm/credential': 'npm_FAKE0token0for0tests0only0000000',
      'op://private/GITHUB/password': 'ghp_FAKE0github0token0for0tests00000',
      'op://hu5ekhd4ogjxa6lqcgsztoyu4e/npm/username': 'octocat',
      'op://Private/GitHub/Recovery/recovery codes': '1111-2222\n3333-4444\n',
    })
    expect(await double.calls()).toEqual([['inject']])
  })

  it('round-trips values with newlines, braces, delimiter-like lines and multibyte characters exactly', async () => {
    const {double, provider} = await givenProvider()
    const tricky = sample.vaults[0]!.items.find((item) => item.title === 'Tricky values')!
    const references = tricky.fields.map((field) => `op://Private/Tricky values/${field.label}`)

    const values = await provider.resolveAll(references)

    for (const field of tricky.fields) expect(values.get(`op://Private/Tricky values/${field.label}`)).toBe(field.value)
    expect(values.size).toBe(tricky.fields.length)
    expect(await double.calls()).toHaveLength(1)
  })

  it('passes --account and resolves a repeated reference once', async () => {
    const {double, provider} = await givenProvider({account: 'my.1password.com'})

    const values = await provider.resolveAll(['op://Private/npm/username', 'op://Private/npm/username'])

    expect([...values]).toEqual([['op://Private/npm/username', 'octocat']])
    expect(await double.calls()).toEqual([['inject', '--account', 'my.1password.com']])
  })

  it('starts no process for an empty list', async () => {
    const {double, provider} = await givenProvider()

    expect((await provider.resolveAll([])).size).toBe(0)
    expect(await double.calls()).toEqual([])
  })

  it('rejects a malformed reference before starting op, so none can break out of the template', async () => {
    const {double, provider} = await givenProvider()

    const error = await caught(provider.resolveAll(['op://Private/npm/credential', 'op://Private/npm }}\n{{ op://x/y/z', 'op://Private/npm']))

    expect(error).toBeInstanceOf(SecretResolutionError)
    expect((error as SecretResolutionError).failures.map((failure) => failure.reference)).toEqual([
      'op://Private/npm }}\n{{ op://x/y/z',
      'op://Private/npm',
    ])
    expect(await double.calls()).toEqual([])
  })

  it('names the one reference that does not resolve', async () => {
    const {double, provider} = await givenProvider()

    const error = await caught(provider.resolveAll(['op://Private/npm/credential', 'op://Private/nope/credential']))

    expect(error).toBeInstanceOf(SecretResolutionError)
    expect(error.code).toBe('SECRET_UNRESOLVED')
    expect(error.message).toBe('cannot resolve secret reference: op://Private/nope/credential (item not found)')
    expectOneLineWithoutSecrets(error)
    const calls = await double.calls()
    expect(calls[0]).toEqual(['inject'])
    expect(calls.slice(1).map((argv) => argv[0])).toEqual(['read', 'read'])
  })

  it('names all three bad references among good ones, each with its reason', async () => {
    const {double, provider} = await givenProvider()
    const references = [
      'op://Private/npm/credential',
      'op://Nowhere/npm/credential',
      'op://Private/GitHub/password',
      'op://Private/missing item/password',
      'op://Environment variables/p5c2x7vn4kq8bt3mzs6rwdyhja/NPM_TOKEN',
      'op://Private/GitHub/no such field',
    ]

    const error = await caught(provider.resolveAll(references))

    expect(error).toBeInstanceOf(SecretResolutionError)
    expect(error.code).toBe('SECRET_UNRESOLVED')
    expect((error as SecretResolutionError).failures).toEqual([
      {reference: 'op://Nowhere/npm/credential', reason: 'vault not found'},
      {reference: 'op://Private/missing item/password', reason: 'item not found'},
      {reference: 'op://Private/GitHub/no such field', reason: 'field not found'},
    ])
    expect(error.message).toBe(
      'cannot resolve 3 secret references: op://Nowhere/npm/credential (vault not found), ' +
        'op://Private/missing item/password (item not found), op://Private/GitHub/no such field (field not found)',
    )
    expectOneLineWithoutSecrets(error)
    // One inject, then one diagnostic read per reference, and never a secret in argv.
    const calls = await double.calls()
    expect(calls).toHaveLength(1 + references.length)
    expect(calls.slice(1).map((argv) => argv.at(-1)).sort()).toEqual([...references].sort())
  })

  it('reports the environment, not the references, when the diagnostic reads cannot authenticate', async () => {
    const {provider} = await givenProvider({fail: 'rate-limit', failCommands: ['read']})

    const error = await caught(provider.resolveAll(['op://Private/nope/credential', 'op://Private/npm/credential']))

    expect(error.code).toBe('OP_RATE_LIMITED')
  })

  it('never puts a secret in the argv of op', async () => {
    const {double, provider} = await givenProvider()
    const references = sample.vaults.flatMap((vault) =>
      vault.items.flatMap((item) => item.fields.filter((field) => field.label).map((field) => `op://${vault.id}/${item.id}/${field.id}`)),
    )

    await provider.resolveAll(references)
    await caught(provider.resolveAll([...references, 'op://Private/nope/x']))

    const argvText = JSON.stringify(await double.calls())
    for (const secret of sampleSecrets) expect(argvText).not.toContain(JSON.stringify(secret).slice(1, -1))
    expect(argvText).not.toContain('{{')
  })

  it.each([
    ['not-signed-in', 'OP_NOT_SIGNED_IN'],
    ['account-not-signed-in', 'OP_NOT_SIGNED_IN'],
    ['no-accounts', 'OP_NOT_SIGNED_IN'],
    ['bad-token', 'OP_BAD_TOKEN'],
    ['rate-limit', 'OP_RATE_LIMITED'],
    ['no-network', 'OP_NO_NETWORK'],
    ['unexpected', 'OP_FAILED'],
  ] as const)('maps op failing with %s to %s in one line with a hint', async (fail, code) => {
    const {double, provider} = await givenProvider({fail})

    const error = await caught(provider.resolveAll(['op://Private/npm/credential', 'op://Private/GitHub/password']))

    expect(error).toBeInstanceOf(EnvironmentError)
    expect(error.code).toBe(code)
    expectOneLineWithoutSecrets(error)
    // An authentication failure is not diagnosed reference by reference.
    expect(await double.calls()).toEqual([['inject']])
  })

  it('says "not signed in" with the op signin hint', async () => {
    const {provider} = await givenProvider({fail: 'not-signed-in'})

    const error = await caught(provider.resolveAll(['op://Private/npm/credential']))

    expect(error.message).toBe('1Password CLI is not signed in')
    expect(error.hint).toBe('run "op signin" or unlock the 1Password app')
  })

  it("quotes op's first stderr line without ANSI codes, capped, for an unknown failure", async () => {
    const {provider} = await givenProvider({fail: 'unexpected'})

    const error = await caught(provider.resolveAll(['op://Private/npm/credential']))

    expect(error.message).toMatch(/^1Password CLI failed \("op inject"\): unexpected response from server: x+…$/)
    expect(error.message).not.toContain('second line')
    expect(error.message).not.toContain('[ERROR]')
  })

  it('reports OP_NOT_FOUND when op is not installed', async () => {
    const double = await createOpDouble()
    doubles.push(double)
    const withoutOp = new OpCliProvider({environment: {...double.environment, PATH: '/nonexistent'}})
    const missingPath = new OpCliProvider({environment: double.environment, opCommand: join(double.callsFile, '..', 'no-op-here')})

    for (const provider of [withoutOp, missingPath]) {
      const error = await caught(provider.resolveAll(['op://Private/npm/credential']))
      expect(error.code).toBe('OP_NOT_FOUND')
      expect(error.hint).toContain('provider = "sdk"')
      expectOneLineWithoutSecrets(error)
    }
  })

  it('kills an op that hangs and reports OP_TIMEOUT', async () => {
    const {provider} = await givenProvider({fail: 'hang', timeoutMs: 500})
    const started = performance.now()

    const error = await caught(provider.resolveAll(['op://Private/npm/credential']))

    expect(error.code).toBe('OP_TIMEOUT')
    expect(error.message).toBe('1Password CLI ("op inject") did not answer within 500 ms')
    expectOneLineWithoutSecrets(error)
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('runs op with the given environment only', async () => {
    const {double} = await givenProvider()
    const provider = new OpCliProvider({opCommand: opDoubleCommand, environment: {...double.environment, OP_DOUBLE_VAULT: undefined, PATH: process.env.PATH}})

    const error = await caught(provider.resolveAll(['op://Private/npm/credential']))

    // The double could not find its data because OP_DOUBLE_VAULT was not inherited from anywhere.
    expect(error.code).toBe('OP_FAILED')
    expect(error.message).toContain('OP_DOUBLE_VAULT is not set')
  })
})

describe('OpCliProvider.findItem', () => {
  it('returns the first title, in the order given, that names an item, with its labelled fields', async () => {
    const {double, provider} = await givenProvider()

    const item = await provider.findItem('Environment variables', ['~/src/project/sub', '~/src/project', '~/src'])

    expect(item).toEqual({
      title: '~/src/project',
      fields: [
        {label: 'NPM_TOKEN', value: 'npm_FAKE0project0token0000000000000'},
        {label: 'GITHUB_TOKEN', value: 'ghp_FAKE0project0token0000000000000'},
        {label: 'notesPlain', value: 'project notes'},
      ],
    })
    expect(await double.calls()).toEqual([
      ['item', 'list', '--vault', 'Environment variables', '--format', 'json'],
      ['item', 'get', 'p5c2x7vn4kq8bt3mzs6rwdyhja', '--vault', 'Environment variables', '--format', 'json'],
    ])
  })

  it('matches titles exactly and returns undefined when none matches', async () => {
    const {double, provider} = await givenProvider({account: 'work'})

    expect(await provider.findItem('Environment variables', ['~/SRC', '~/src/other'])).toBeUndefined()
    expect(await double.calls()).toEqual([['item', 'list', '--vault', 'Environment variables', '--format', 'json', '--account', 'work']])
  })

  it('keeps section fields and notes of a login item', async () => {
    const {provider} = await givenProvider()

    const item = await provider.findItem('hu5ekhd4ogjxa6lqcgsztoyu4e', ['GitHub'])

    expect(item?.fields.map((field) => field.label)).toEqual(['username', 'password', 'notesPlain', 'recovery codes'])
  })

  it('names a vault that does not exist', async () => {
    const {provider} = await givenProvider()

    const error = await caught(provider.findItem('Nowhere', ['~/src']))

    expect(error.code).toBe('OP_VAULT_NOT_FOUND')
    expect(error.message).toBe('1Password vault "Nowhere" not found')
  })

  it.each([
    ['not-signed-in', 'OP_NOT_SIGNED_IN'],
    ['bad-token', 'OP_BAD_TOKEN'],
    ['rate-limit', 'OP_RATE_LIMITED'],
    ['no-network', 'OP_NO_NETWORK'],
  ] as const)('maps op item failing with %s to %s', async (fail, code) => {
    const {provider} = await givenProvider({fail})

    const error = await caught(provider.findItem('Environment variables', ['~/src']))

    expect(error.code).toBe(code)
    expectOneLineWithoutSecrets(error)
  })
})

describe('OpCliProvider.createItem and listVaults', () => {
  it('creates the item from a template on stdin, never argv, and its references resolve to the values', async () => {
    const {double, provider} = await givenProvider({account: 'work'})

    const item = await provider.createItem({vaultId: 'hu5ekhd4ogjxa6lqcgsztoyu4e', title: 'AWS access key', secret: 'aws-secret-for-create-test', details: [{label: 'access key id', value: 'AKIACREATETEST0000'}]})

    expect(item.secretReference).toMatch(/^op:\/\/hu5ekhd4ogjxa6lqcgsztoyu4e\/[a-z2-7]{26}\/password$/)
    expect(item.detailReferences).toEqual([item.secretReference.replace(/password$/, 'access_key_id')])
    expect(await provider.resolveAll([item.secretReference, ...item.detailReferences])).toEqual(
      new Map([
        [item.secretReference, 'aws-secret-for-create-test'],
        [item.detailReferences[0], 'AKIACREATETEST0000'],
      ]),
    )
    const calls = await double.calls()
    expect(calls[0]).toEqual(['item', 'create', '--vault', 'hu5ekhd4ogjxa6lqcgsztoyu4e', '--format', 'json', '--account', 'work', '-'])
    expect(JSON.stringify(calls)).not.toMatch(/aws-secret-for-create-test|AKIACREATETEST0000/)
  })

  it('reports op item create failing for want of a network as OP_NO_NETWORK', async () => {
    const {provider} = await givenProvider({fail: 'no-network', failCommands: ['item create']})

    const error = await caught(provider.createItem({vaultId: 'Private', title: 't', secret: 'a-secret-never-shown'}))

    expect(error.code).toBe('OP_NO_NETWORK')
    expectOneLineWithoutSecrets(error)
  })

  it('names a vault that does not exist', async () => {
    const {provider} = await givenProvider()
    const error = await caught(provider.createItem({vaultId: 'Nowhere', title: 't', secret: 'a-secret-never-shown'}))
    expect(error.code).toBe('OP_VAULT_NOT_FOUND')
  })

  it('lists vaults by ID and name', async () => {
    const {double, provider} = await givenProvider()
    expect((await provider.listVaults()).map((vault) => vault.title)).toEqual(sample.vaults.map((vault) => vault.name))
    expect(await double.calls()).toEqual([['vault', 'list', '--format', 'json']])
  })
})

describe('the op inject template', () => {
  const nonce = '0123456789abcdef0123456789abcdef'
  /** What op inject does to the template: each `{{ reference }}` replaced by its value. */
  const injectLikeOp = (template: string, values: readonly string[]) => {
    let index = 0
    return template.replaceAll(/\{\{ op:\/\/[^}]*\}\}/g, () => values[index++]!)
  }

  it('parses back any values that do not contain the nonce', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({unit: 'grapheme'}),
            fc.string({unit: fc.constantFrom('\n', '\r', '{', '}', ':', 'a', '0', 'b', 'e', 'g', 'i', 'n', 'd')}),
            fc.constantFrom(`${'f'.repeat(32)}:0:end`, '\n:0:end\n', `${nonce.slice(1)}:0:end`, ''),
          ),
          {maxLength: 8},
        ),
        (values) => {
          fc.pre(values.every((value) => !value.includes(nonce)))
          const references = values.map((_, index) => `op://v/i/f${index}`)
          const output = injectLikeOp(buildInjectTemplate(references, nonce), values)
          expect(parseInjectOutput(output, nonce, values.length)).toEqual(values)
        },
      ),
    )
  })

  it('refuses rather than guesses when a value contains the nonce or the output is cut short', () => {
    const template = buildInjectTemplate(['op://v/i/a', 'op://v/i/b'], nonce)
    const withNonce = injectLikeOp(template, ['x', `\n${nonce}:1:end\n`])
    const truncated = injectLikeOp(template, ['x', 'y']).slice(0, -10)

    expect(() => parseInjectOutput(withNonce, nonce, 2)).toThrow(BugError)
    expect(() => parseInjectOutput(truncated, nonce, 2)).toThrow(BugError)
    expect(() => parseInjectOutput('', nonce, 1)).toThrow(/cannot parse the output of "op inject"/)
  })
})

describe('classifyOpFailure', () => {
  it.each([
    [
      `[ERROR] 2024/01/01 12:00:00 could not read secret 'op://v/timeout/f': could not get item v/timeout: "timeout" isn't an item in the "v" vault. Specify the item with its UUID, name, or domain.`,
      'item not found',
    ],
    [`[ERROR] 2024/01/01 12:00:00 "y" isn't a vault in this account. Specify the vault with its ID or name.`, 'vault not found'],
    [`[ERROR] 2024/01/01 12:00:00 could not read secret 'op://v/i/z': could not find field z`, 'field not found'],
    [`[ERROR] 2024/01/01 12:00:00 could not read secret 'op://v/i/z': item 'v/i' does not have a field 'z'`, 'field not found'],
  ])('reads a reference problem: %s', (stderr, reason) => {
    expect(classifyOpFailure(stderr)).toMatchObject({kind: 'reference', reason})
  })

  it.each([
    ['[ERROR] 2024/01/01 12:00:00 could not read secret \'op://v/i/f\': error initializing client: You are not currently signed in. Please run `op signin --help` for instructions', 'OP_NOT_SIGNED_IN'],
    ['[ERROR] 2024/01/01 12:00:00 session expired, sign in to create a new session', 'OP_NOT_SIGNED_IN'],
    ["[ERROR] 2024/01/01 12:00:00 could not read secret 'op://v/i/f': error initializing client: authorization timeout", 'OP_NOT_SIGNED_IN'],
    ['[ERROR] 2024/01/01 12:00:00 Too many requests. Your client has been rate-limited.', 'OP_RATE_LIMITED'],
    ['[ERROR] 2024/01/01 12:00:00 (401) Unauthorized: invalid bearer token', 'OP_BAD_TOKEN'],
    ['[ERROR] 2024/01/01 12:00:00 dial tcp 1.2.3.4:443: connect: connection refused', 'OP_NO_NETWORK'],
    ['[ERROR] 2024/01/01 12:00:00 could not read secret \'op://v/i/f\': error initializing client: read: context deadline exceeded', 'OP_NO_NETWORK'],
  ])('reads an environment problem: %s', (stderr, code) => {
    const failure = classifyOpFailure(stderr)
    expect(failure.kind).toBe('environment')
    if (failure.kind === 'environment') expect(failure.error().code).toBe(code)
  })
})

describe('the op test double', () => {
  async function op(double: OpDouble, arguments_: string[], input?: string) {
    return execa(opDoubleCommand, arguments_, {env: double.environment, extendEnv: false, reject: false, input, stripFinalNewline: false})
  }

  it('behaves like op read, with and without -n', async () => {
    const double = await createOpDouble()
    doubles.push(double)

    expect((await op(double, ['read', 'op://Private/npm/username'])).stdout).toBe('octocat\n')
    expect((await op(double, ['read', '-n', 'op://PRIVATE/a4v6vn2o5bzqd6jq3ttfkbbwbu/USERNAME'])).stdout).toBe('octocat')
    expect((await op(double, ['--version'])).stdout).toMatch(/^2\.\d+\.\d+\n$/)
  })

  it('writes nothing to stdout and real-looking errors to stderr on failure', async () => {
    const double = await createOpDouble()
    doubles.push(double)

    const result = await op(double, ['inject'], 'a={{ op://Private/npm/credential }}\nb={{ op://Private/x/y }}\nc={{ op://Nope/x/y }}\n')

    expect(result.exitCode).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(
      /^\[ERROR\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d could not read secret 'op:\/\/Private\/x\/y': could not get item Private\/x: "x" isn't an item in the "Private" vault\. Specify the item with its UUID, name, or domain\.\n$/,
    )
  })

  it('records argv but never stdin', async () => {
    const double = await createOpDouble()
    doubles.push(double)

    await op(double, ['inject', '--account', 'my'], '{{ op://Private/npm/credential }}')

    expect(await readFile(double.callsFile, 'utf8')).toBe('["inject","--account","my"]\n')
  })
})
