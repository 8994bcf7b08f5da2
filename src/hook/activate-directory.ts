import {resolveSecurePaths} from '../paths.js'
import {describeActivation} from './activation.js'
import {SHELLS, type Shell, posixQuote, renderActivation} from './shell-code.js'

/** What hook-entry.js does: prints the code that activates `directory`'s profile in `shell`. */
export async function printActivation(argv: readonly string[], environment: Readonly<Record<string, string | undefined>>, stdout: NodeJS.WritableStream): Promise<number> {
  const [shell, directory] = argv
  if (!SHELLS.includes(shell as Shell) || !directory) {
    process.stderr.write('secure: hook-entry.js takes a shell (bash, zsh, fish) and a directory\n')
    return 2
  }
  try {
    stdout.write(renderActivation(shell as Shell, await describeActivation(directory, resolveSecurePaths(), environment)))
  } catch (error) {
    // A broken profile must not break the prompt: no wrappers, and one line saying why.
    const message = `secure: ${String((error as Error).message ?? error).split('\n')[0]} (secure status says more)`
    stdout.write(`__secure_deactivate quiet\nprintf '%s\\n' ${posixQuote(message)} >&2\n`)
  }
  return 0
}
