import {type OnePasswordSettings} from '../profile/user-config.js'
import {type SecretProvider} from './provider.js'
import {type ReferenceDialect} from './reference.js'

/** The version `secure` reports to 1Password as its integration version. */
const INTEGRATION_VERSION = '0.1.0'

/**
 * The provider the user configured. Each is imported only when chosen: the SDK alone costs 60–90 ms
 * and ~80 MB to load (shared/reference/onepassword.md §1), which no run without secrets should pay.
 */
export async function createSecretProvider(settings: OnePasswordSettings, environment: Readonly<Record<string, string | undefined>>): Promise<SecretProvider> {
  if (settings.provider === 'op') {
    const {OpCliProvider} = await import('./op-cli-provider.js')
    return new OpCliProvider({opCommand: settings.opPath, account: settings.account, environment})
  }
  const {SdkProvider} = await import('./sdk-provider.js')
  return new SdkProvider({
    auth: settings.auth === 'desktop' ? {kind: 'desktop', account: settings.account} : {kind: 'service-account', token: environment.OP_SERVICE_ACCOUNT_TOKEN},
    integrationVersion: INTEGRATION_VERSION,
  })
}

/** Which reference grammar the configured provider accepts. */
export function referenceDialectOf(settings: OnePasswordSettings): ReferenceDialect {
  return settings.provider === 'op' ? 'op' : 'sdk'
}
