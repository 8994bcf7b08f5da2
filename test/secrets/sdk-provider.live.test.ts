import {describe, expect, it} from 'vitest'

import {SdkProvider} from '../../src/secrets/sdk-provider.js'

/**
 * Against a real 1Password account, only when both are set:
 * - OP_SERVICE_ACCOUNT_TOKEN: a service account with read access to the vault;
 * - SECURE_TEST_VAULT: a vault holding an item titled `secure-test` with a non-empty `password`.
 * Values are never printed: only their length and the fields' labels reach an assertion.
 */
const token = process.env.OP_SERVICE_ACCOUNT_TOKEN
const vault = process.env.SECURE_TEST_VAULT

describe.skipIf(!token || !vault)('SdkProvider against 1Password (live)', () => {
  const provider = new SdkProvider({auth: {kind: 'service-account', token}, integrationVersion: 'test'})

  it('resolves op://$SECURE_TEST_VAULT/secure-test/password', async () => {
    const reference = `op://${vault}/secure-test/password`
    const values = await provider.resolveAll([reference])
    expect(values.get(reference)?.length ?? 0).toBeGreaterThan(0)
  }, 60_000)

  it('finds the item secure-test by title', async () => {
    const item = await provider.findItem(vault!, ['secure-test does not exist', 'secure-test'])
    expect(item?.title).toBe('secure-test')
    expect(item?.fields.map((field) => field.label)).toContain('password')
  }, 60_000)

  it('names a missing field', async () => {
    const reference = `op://${vault}/secure-test/no-such-field-here`
    await expect(provider.resolveAll([reference])).rejects.toMatchObject({code: 'SECRET_UNRESOLVED', failures: [{reference, reason: 'field not found'}]})
  }, 60_000)
})
