import {access, constants} from 'node:fs/promises'
import {hostname} from 'node:os'
import {delimiter, isAbsolute, join} from 'node:path'

import {type SecurePaths, findPackageRoot} from '../paths.js'
import {readUserConfig} from '../profile/user-config.js'
import {forgetOldStamps, hookCacheRoot, prepareHookCache, prepareStampDirectory} from './activation-cache.js'
import {type Shell, renderHook} from './shell-code.js'

/**
 * `secure hook SHELL`: the hook code with this installation's paths baked in, once its cache
 * directory is ready (`version` keeps the entries of different secure versions apart).
 */
export async function hookForShell(shell: Shell, paths: SecurePaths, version: string, environment: Readonly<Record<string, string | undefined>>): Promise<string> {
  const root = await findPackageRoot()
  const config = await readUserConfig(paths.configFile, paths.home)
  const cache = hookCacheRoot(paths, version)
  const usable = await prepareHookCache(cache)
  const stamps = usable ? await prepareStampDirectory(cache, environment.XDG_RUNTIME_DIR, hostname()) : undefined
  if (stamps) await forgetOldStamps(stamps)
  return renderHook(shell, {
    node: process.execPath,
    cli: join(root, 'bin', 'run.js'),
    entry: join(root, 'dist', 'hook', 'hook-entry.js'),
    cmp: (await findExecutable('cmp', environment.PATH)) ?? '',
    grep: (await findExecutable('grep', environment.PATH)) ?? 'grep',
    cache: usable ? cache : '',
    stamps: stamps ?? '',
    config: paths.configFile,
    directories: config.directories.map((entry) => entry.directory),
  })
}

/** The first `name` on the absolute entries of PATH: a relative entry would change with the directory. */
async function findExecutable(name: string, searchPath: string | undefined): Promise<string | undefined> {
  for (const directory of (searchPath ?? '').split(delimiter)) {
    if (!isAbsolute(directory)) continue
    const candidate = join(directory, name)
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate
  }
  return undefined
}
