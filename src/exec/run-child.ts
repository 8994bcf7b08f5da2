import {constants} from 'node:os'
import {type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {execa} from 'execa'

import {EXIT_CODES, EnvironmentError} from '../errors.js'
import {FORWARDED_SIGNALS} from '../signals.js'
import {createMaskingTransform} from './masking.js'

/** How to run the one child that gets the secrets. */
export interface RunChildOptions {
  command: string
  args: readonly string[]
  cwd: string
  /** The child's whole environment (nothing is inherited besides it). */
  environment: Readonly<Record<string, string>>
  /** Values to conceal in the child's stdout and stderr. Empty: the child gets the real streams. */
  maskValues: readonly string[]
  /** Where masked output goes (the terminal, normally). */
  stdout: Writable
  stderr: Writable
  /**
   * Whether `secure` runs in a terminal's foreground. The terminal then sends Ctrl-C and Ctrl-\ to
   * the whole process group, child included, so forwarding SIGINT/SIGQUIT would deliver them twice
   * (Doppler and aws-vault make the same call: shared/reference/onepassword.md §5).
   */
  interactive: boolean
  /** Where signals arrive (`process`). */
  signals: NodeJS.EventEmitter
  /** `ignore`: the child gets no input at all (default: secure's own stdin). */
  stdin?: 'inherit' | 'ignore'
}

/** How the child ended, execa-style. */
export interface ChildOutcome {
  /** `secure`'s exit code: the child's, or 128 + the signal's number. */
  exitCode: number
  /** The signal that killed the child, if one did. */
  signal: string | undefined
}

const TERMINAL_SIGNALS = new Set<string>(['SIGINT', 'SIGQUIT'])

/**
 * Runs the child with stdin inherited, signals forwarded, and stdout/stderr masked when there are
 * values to mask. Resolves once the child has exited and all its output is written.
 */
export async function runChild(options: RunChildOptions): Promise<ChildOutcome> {
  const masking = options.maskValues.length > 0
  const subprocess = execa(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.environment,
    extendEnv: false,
    stdin: options.stdin ?? 'inherit',
    stdout: masking ? 'pipe' : 'inherit',
    stderr: masking ? 'pipe' : 'inherit',
    reject: false,
    buffer: false,
    stripFinalNewline: false,
    // The child holds secrets: it must not outlive `secure` when `secure` is stopped.
    cleanup: true,
  })

  const forward = (signal: NodeJS.Signals) => {
    if (options.interactive && TERMINAL_SIGNALS.has(signal)) return
    subprocess.kill(signal)
  }
  for (const signal of FORWARDED_SIGNALS) options.signals.on(signal, forward)

  try {
    // execa's pipes are socket pairs: closing our end would hand the child ECONNRESET, not the
    // SIGPIPE it gets when its reader goes away without secure in between (`secure exec -- yes | head`).
    const readerGone = () => subprocess.kill('SIGPIPE')
    const copies = masking
      ? [copyMasked(subprocess.stdout!, options.stdout, options.maskValues, readerGone), copyMasked(subprocess.stderr!, options.stderr, options.maskValues, readerGone)]
      : []
    const [result] = await Promise.all([subprocess, ...copies])
    if (result.code === 'ENOENT') {
      throw new EnvironmentError(`command not found: ${options.command}`, {
        code: 'COMMAND_NOT_FOUND',
        hint: 'check the spelling, or that it is installed and on PATH',
        exitCode: EXIT_CODES.commandNotFound,
      })
    }
    if (result.code === 'EACCES') {
      throw new EnvironmentError(`command is not executable: ${options.command}`, {
        code: 'COMMAND_NOT_EXECUTABLE',
        hint: 'check its permissions (chmod +x) or run it through its interpreter',
        exitCode: EXIT_CODES.commandNotExecutable,
      })
    }
    if (result.signal) return {exitCode: 128 + (constants.signals[result.signal] ?? 0), signal: result.signal}
    return {exitCode: result.exitCode ?? 1, signal: undefined}
  } finally {
    for (const signal of FORWARDED_SIGNALS) options.signals.off(signal, forward)
  }
}

async function copyMasked(source: NodeJS.ReadableStream, destination: Writable, values: readonly string[], readerGone: () => void): Promise<void> {
  // Registered before pipeline() registers its own: the child must get SIGPIPE before pipeline()
  // closes its socket, or it would see ECONNRESET first.
  const onError = () => readerGone()
  destination.once('error', onError)
  try {
    await pipeline(source, createMaskingTransform(values), destination, {end: false})
  } catch {
    // The reader went away; readerGone has ended the child.
  } finally {
    destination.off('error', onError)
  }
}
