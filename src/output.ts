import {Chalk, supportsColorStderr} from 'chalk'

import {type SecureError} from './errors.js'

/**
 * Everything `secure` says. stdout belongs to the child (exec) or to the command's result
 * (`--json`, `secure hook`); every message for the user goes to stderr.
 */
export interface Output {
  /** The command's product, on stdout. */
  result(text: string): void
  /** One line for the user, on stderr. */
  notice(line: string): void
  /** A warning, on stderr. */
  warn(line: string): void
  /** A user-facing error and its hint, on stderr. */
  error(error: SecureError, debug: boolean): void
}

/** Writes to the process's stdout and stderr, coloured unless NO_COLOR is set or stderr is not a terminal. */
export function createOutput(environment: Readonly<Record<string, string | undefined>>, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Output {
  const noColor = environment.NO_COLOR !== undefined && environment.NO_COLOR !== ''
  const paint = new Chalk({level: noColor || !supportsColorStderr ? 0 : supportsColorStderr.level})
  return {
    result: (text) => stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    notice: (line) => stderr.write(`${paint.dim(line)}\n`),
    warn: (line) => stderr.write(`${paint.yellow('secure: warning:')} ${line}\n`),
    error(error, debug) {
      stderr.write(`${paint.red('secure: error:')} ${error.message}\n`)
      if (error.hint) stderr.write(`${paint.dim('hint:')} ${error.hint}\n`)
      if (debug && error.cause) stderr.write(`${paint.dim('cause:')} ${String((error.cause as Error).stack ?? error.cause)}\n`)
    },
  }
}
