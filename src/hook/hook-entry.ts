// The shell hook's entry point: `node dist/hook/hook-entry.js SHELL DIRECTORY` prints the code that
// activates DIRECTORY's profile in that shell. It runs on a directory change into a profile, so it
// loads no oclif (a bundle of its own) and does one thing.
import {resolveSecurePaths} from '../paths.js'
import {describeActivation} from './activation.js'
import {SHELLS, type Shell, posixQuote, renderActivation} from './shell-code.js'

const [shell, directory] = process.argv.slice(2) as [string, string]
if (!SHELLS.includes(shell as Shell) || !directory) {
  process.stderr.write('secure: hook-entry.js takes a shell (bash, zsh, fish) and a directory\n')
  process.exit(2)
}
try {
  process.stdout.write(renderActivation(shell as Shell, await describeActivation(directory, resolveSecurePaths(), {...process.env})))
} catch (error) {
  // A broken profile must not break the prompt: no wrappers, and one line saying why.
  const message = `secure: ${String((error as Error).message ?? error).split('\n')[0]} (secure status says more)`
  process.stdout.write(`__secure_deactivate quiet\nprintf '%s\\n' ${posixQuote(message)} >&2\n`)
}
