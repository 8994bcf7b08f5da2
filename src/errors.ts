/**
 * Errors a user meets. Each is one line saying what went wrong, a hint saying what to do, a stable
 * code for `--json` output and scripts, and the exit code `secure` ends with. They are thrown from
 * anywhere and printed once, by the base command.
 */

/** Exit codes of `secure`'s own failures; a child's exit code is passed through unchanged. */
export const EXIT_CODES = {
  /** Bad flags or arguments (oclif's own default). */
  usage: 2,
  /** Something outside `secure` is missing or refused: 1Password, a token, the network. */
  environment: 69,
  /** A bug in `secure`. */
  bug: 70,
  /** Refused on purpose: an untrusted profile, a forbidden variable, a nested `secure exec`. */
  policy: 77,
  /** The command exists but cannot be executed (as in POSIX shells). */
  commandNotExecutable: 126,
  /** The command was not found (as in POSIX shells). */
  commandNotFound: 127,
} as const

/** What every {@link SecureError} is built from. */
export interface SecureErrorOptions {
  /** Stable, upper-case identifier, printed under `--json` and safe to match on. */
  code: string
  /** One line telling the user what to do next. */
  hint?: string
  /** The underlying error; printed only with `--debug`. */
  cause?: unknown
  /** Overrides the class's default exit code. */
  exitCode?: number
}

/** Base of every error meant for the user's eyes. Never put a secret value in the message. */
export abstract class SecureError extends Error {
  readonly code: string
  readonly hint: string | undefined
  readonly exitCode: number

  protected constructor(message: string, options: SecureErrorOptions, defaultExitCode: number) {
    super(message, {cause: options.cause})
    this.code = options.code
    this.hint = options.hint
    this.exitCode = options.exitCode ?? defaultExitCode
  }
}

/** The user typed something `secure` cannot accept. */
export class UsageError extends SecureError {
  constructor(message: string, options: SecureErrorOptions) {
    super(message, options, EXIT_CODES.usage)
    this.name = 'UsageError'
  }
}

/** The user's environment must change: install, unlock, authenticate, reconnect. */
export class EnvironmentError extends SecureError {
  constructor(message: string, options: SecureErrorOptions) {
    super(message, options, EXIT_CODES.environment)
    this.name = 'EnvironmentError'
  }
}

/** `secure` refused on purpose, to keep a credential safe. */
export class PolicyError extends SecureError {
  constructor(message: string, options: SecureErrorOptions) {
    super(message, options, EXIT_CODES.policy)
    this.name = 'PolicyError'
  }
}

/** Something `secure` did not expect: a bug to report. */
export class BugError extends SecureError {
  constructor(message: string, options: SecureErrorOptions) {
    super(message, options, EXIT_CODES.bug)
    this.name = 'BugError'
  }
}
