import {type SecurePaths, resolveSecurePaths} from '../paths.js'
import {findNearestProfileFile} from '../profile/load-profile.js'
import {cacheActivation} from './activation-cache.js'
import {type Activation, describeActivation, existing} from './activation.js'
import {SHELLS, type Shell, renderActivation, shellFamily} from './shell-code.js'

/**
 * What hook-entry.js does: prints the code that activates `directory`'s profile in `shell`, and
 * caches it when it may be served again without Node (CACHE_ROOT is the hook's, see activation-cache.ts).
 */
export async function printActivation(argv: readonly string[], environment: Readonly<Record<string, string | undefined>>, stdout: NodeJS.WritableStream): Promise<number> {
  const [shell, directory, cacheRoot] = argv
  if (!SHELLS.includes(shell as Shell) || !directory) {
    process.stderr.write('secure: hook-entry.js takes a shell (bash, zsh, fish), a directory and the cache directory\n')
    return 2
  }
  let activation: Activation
  let paths: SecurePaths | undefined
  try {
    paths = resolveSecurePaths()
    activation = await describeActivation(directory, paths, environment)
  } catch (error) {
    activation = await failedActivation(directory, error, paths?.configFile)
  }
  stdout.write(renderActivation(shell as Shell, activation))
  const {cacheable} = activation
  if (cacheable && cacheRoot) await cacheActivation(cacheRoot, shellFamily(shell as Shell), cacheable, (copy) => renderActivation(shell as Shell, activation, copy))
  return 0
}

/**
 * A profile that cannot be worked out must not break the prompt: no wrappers, the shell's ambient
 * credentials removed (fail closed), one line saying why, and another look once the profile or the
 * user's config changes.
 */
async function failedActivation(directory: string, error: unknown, configFile: string | undefined): Promise<Activation> {
  const status = `secure: ${String((error as Error).message ?? error).split('\n')[0]} (secure status says more)`
  return {label: '', wrappers: [], scrub: true, status, watch: {files: await existing([await findNearestProfileFile(directory), configFile]), present: [], absent: []}}
}
