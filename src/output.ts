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
  /** Shows a long task's progress on stderr until it is done. */
  progress(title: string): Progress
}

/** A long task's display: a spinner with the latest step on a terminal, one line per step otherwise. */
export interface Progress {
  /** A line of the task's own output; only its steps (`Step 2/5: …`) are shown. */
  update(line: string): void
  done(summary: string): void
  fail(): void
}

/** Build steps as Docker (`Step 2/5 : RUN …`) and Podman (`STEP 2/5: RUN …`) print them, and secure's own. */
const STEP_LINE = /^(step \d+\/\d+ ?:|fetching )/i

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
    progress(title) {
      const terminal = (stderr as NodeJS.WriteStream).isTTY === true
      if (!terminal) {
        stderr.write(`${paint.dim(title)}\n`)
        return {
          update: (line) => STEP_LINE.test(line) && stderr.write(`${paint.dim(`  ${shorten(line.trim(), 120)}`)}\n`),
          done: (summary) => stderr.write(`${paint.dim(summary)}\n`),
          fail: () => {},
        }
      }
      // ora is loaded on first use: every command pays for what output.ts imports, few ever build.
      let text = title
      const spinner = import('ora').then(({default: ora}) => ora({text, stream: stderr, color: noColor ? false : 'cyan'}).start())
      return {
        update(line) {
          if (!STEP_LINE.test(line)) return
          // One terminal line: a wrapped spinner line cannot be redrawn in place.
          const room = ((stderr as NodeJS.WriteStream).columns ?? 80) - title.length - 4
          text = room > 10 ? `${title} ${paint.dim(shorten(line.trim(), room))}` : title
          void spinner.then((running) => (running.text = text))
        },
        done: (summary) => void spinner.then((running) => running.succeed(summary)),
        fail: () => void spinner.then((running) => running.fail(title)),
      }
    },
  }
}

function shorten(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text
}
