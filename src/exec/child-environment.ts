import {isAmbientCredential} from '../secrets/ambient-credentials.js'

/** An environment as a plain value: never `process.env` itself, so nothing writes to it. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Set in every child of `secure exec`; its presence refuses a nested `secure exec`, as aws-vault's
 * `AWS_VAULT` does. Its value names the profile, for the child's prompt or scripts.
 */
export const EXEC_MARKER = 'SECURE_EXEC'

/** What {@link buildChildEnvironment} needs. */
export interface ChildEnvironmentOptions {
  /** Name → resolved value: exactly what the child gets. */
  secrets: ReadonlyMap<string, string>
  /** Keep SSH_AUTH_SOCK (scrubbed by default). */
  sshAgent: boolean
  /** The marker's value: the profile's path, or `none`. */
  marker: string
}

/**
 * The child's environment: the parent's, minus every ambient credential, plus exactly the resolved
 * secrets and the marker. Returns the scrubbed names too (names only, never values) for the notice.
 */
export function buildChildEnvironment(parent: Environment, options: ChildEnvironmentOptions): {environment: Record<string, string>; scrubbed: string[]} {
  const environment: Record<string, string> = {}
  const scrubbed: string[] = []
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue
    if (isAmbientCredential(name) && !(options.sshAgent && name === 'SSH_AUTH_SOCK')) {
      scrubbed.push(name)
      continue
    }
    environment[name] = value
  }
  for (const [name, value] of options.secrets) environment[name] = value
  environment[EXEC_MARKER] = options.marker
  return {environment, scrubbed: scrubbed.sort()}
}
