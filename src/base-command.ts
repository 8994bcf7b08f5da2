import {hostname, userInfo} from 'node:os'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'

import {BugError, SecureError, UsageError} from './errors.js'
import {type Output, createOutput} from './output.js'
import {type SecurePaths, resolveSecurePaths} from './paths.js'

/**
 * Base of every command. It reads the process's environment once (nothing below it touches
 * `process.env`), prints any error once, with its hint, and sets the exit code.
 */
export abstract class SecureCommand extends Command {
  static override baseFlags = {
    debug: Flags.boolean({description: 'Show the cause of an error.', helpGroup: 'GLOBAL'}),
  }

  /** A frozen copy of the environment `secure` was started with. */
  protected readonly environment: Readonly<Record<string, string | undefined>> = Object.freeze({...process.env})
  protected readonly output: Output = createOutput(this.environment, process.stdout, process.stderr)
  private debugEnabled = false

  private resolvedPaths: SecurePaths | undefined

  /** secure's XDG paths, resolved once (on first use: some commands need none). */
  protected get paths(): SecurePaths {
    return (this.resolvedPaths ??= resolveSecurePaths())
  }

  /** Who and where, for audit records. */
  protected get auditIdentity() {
    return {now: () => new Date(), user: userInfo().username, host: hostname()}
  }

  /** Appends a trust decision to the audit log: who allowed or denied which profile content, when. */
  protected async recordTrustDecision(event: 'profile.allow' | 'profile.deny', file: string, fingerprint: string | undefined): Promise<void> {
    const {appendAuditRecord} = await import('./audit/index.js')
    await appendAuditRecord({...this.auditIdentity, logPath: this.paths.auditLog}, {event, cwd: process.cwd(), details: {file, fingerprint: fingerprint ?? null}})
  }

  /**
   * Splits this command's argv at the first `--`: `own` is for this.parse(), `after` is the command
   * to run, untouched (oclif's parser would read a later `--flag` or `--` in it as its own:
   * `secure exec -- env --only X` must run `env --only X`).
   */
  protected splitAtSeparator(): {own: string[]; after: string[]} {
    const separator = this.argv.indexOf('--')
    return separator >= 0 ? {own: this.argv.slice(0, separator), after: this.argv.slice(separator + 1)} : {own: [...this.argv], after: []}
  }

  /** The command to run: positional arguments before `--`, then everything after it. */
  protected commandLineFrom(positional: unknown[], after: readonly string[]): [string, ...string[]] {
    const commandLine = [...(positional as string[]), ...after]
    if (commandLine.length === 0) {
      throw new UsageError('no command given', {code: 'NO_COMMAND', hint: `put the command after --, as in: secure ${this.id} -- npm test`})
    }
    return commandLine as [string, ...string[]]
  }

  protected setExitCode(code: number): void {
    process.exitCode = code
  }

  override async init(): Promise<void> {
    await super.init()
    this.debugEnabled = this.argv.includes('--debug')
  }

  override async catch(error: Error & {oclif?: {exit?: number}; exitCode?: number}): Promise<void> {
    const secureError = toSecureError(error)
    this.setExitCode(secureError.exitCode)
    if (this.jsonEnabled()) {
      this.output.result(JSON.stringify({error: {code: secureError.code, message: secureError.message, hint: secureError.hint ?? null}}))
      return
    }
    this.output.error(secureError, this.debugEnabled)
  }
}

/** Turns whatever was thrown into one printable error: oclif's parse errors are usage errors; anything unknown is a bug. */
function toSecureError(error: Error & {oclif?: {exit?: number}}): SecureError {
  if (error instanceof SecureError) return error
  if (error.oclif !== undefined || error.name === 'CLIError' || /Nonexistent flag|Unexpected argument|Missing required/.test(error.message)) {
    return new UsageError(oneLine(error.message), {code: 'USAGE', hint: 'see --help', cause: error})
  }
  return new BugError(`unexpected error: ${error.message.split('\n')[0]}`, {code: 'BUG', hint: 'run again with --debug and report it', cause: error})
}

/**
 * oclif's parse errors span lines, with the reason on the second (`Parsing --pids` / `Expected an
 * integer but received: abc`): joined, so the one line keeps it.
 */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    // The hint already says where help is.
    .filter((line) => line !== '' && !/^See more help with --help$/.test(line))
    .join(': ')
}
