import {createHash, randomBytes} from 'node:crypto'
import {chmod, lstat, mkdir, readdir, rename, rm, stat, writeFile} from 'node:fs/promises'
import {basename, dirname, isAbsolute, join} from 'node:path'

import {type SecurePaths} from '../paths.js'
import {type ShellFamily} from './shell-code.js'

/**
 * The activation cache lets a shell enter a directory it has seen before without starting Node.
 * An entry is shell code the shell sources, so it lives in a directory of the user's own that no one
 * else may enter (0700, checked here and by the shell), and it is used only for the very bytes it
 * was worked out from: the entry names a copy of the profile, the shell compares the profile with it
 * byte for byte (cmp) and tests the trust records itself. README "The shell hook" has the reasoning.
 * Bumped whenever the cached code changes shape: a hook reads only entries of its own format.
 */
export const HOOK_CACHE_FORMAT = 1

/** Stamps older than this belong to shells long gone (a live one writes a new stamp when it needs it). */
const STAMP_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000

/**
 * Where the hook of secure `version` keeps cached activations. A shell whose trust records, config
 * or home are elsewhere has a cache of its own: an entry names the trust records it was decided on
 * and the paths it shows, so it holds only for the same ones.
 */
export function hookCacheRoot(paths: Pick<SecurePaths, 'cacheDirectory' | 'trustDirectory' | 'configFile' | 'home'>, version: string): string {
  const setting = createHash('sha256').update([paths.trustDirectory, paths.configFile, paths.home].join('\0')).digest('hex').slice(0, 12)
  return join(paths.cacheDirectory, 'hook', `${version}-${HOOK_CACHE_FORMAT}-${setting}`)
}

/** The entry for a profile: its path mirrored under the root, as the shell builds it ("$root/posix$file.activation"). */
export function cacheEntryPath(root: string, family: ShellFamily, file: string): string {
  return `${join(root, family, file)}.activation`
}

/** Makes `root` a directory that only this user may enter. False when that cannot be had: then nothing is cached. */
export async function prepareHookCache(root: string): Promise<boolean> {
  return ownPrivateDirectory(root)
}

/**
 * Where the shells keep their stamps (two each, named by process id): in XDG_RUNTIME_DIR, local
 * and emptied at logout, when there is one; else in the cache, one directory per host (a home on
 * NFS is shared by hosts whose process ids overlap). Undefined when neither is the user's alone:
 * then the hook does without stamps.
 */
export async function prepareStampDirectory(root: string, runtimeDirectory: string | undefined, host: string): Promise<string | undefined> {
  const base = runtimeDirectory && isAbsolute(runtimeDirectory) ? join(runtimeDirectory, 'secure') : root
  if (!(await ownPrivateDirectory(base))) return undefined
  const stamps = base === root ? join(root, 'shells', host) : join(base, 'hook-stamps')
  try {
    await mkdir(stamps, {recursive: true, mode: 0o700})
    return stamps
  } catch {
    return undefined
  }
}

/** Removes the stamps of shells long gone. */
export async function forgetOldStamps(stamps: string): Promise<void> {
  const now = Date.now()
  for (const name of await readdir(stamps).catch(() => [])) {
    const stamp = join(stamps, name)
    const info = await stat(stamp).catch(() => undefined)
    if (info && now - info.mtimeMs > STAMP_LIFETIME_MS) await rm(stamp, {force: true})
  }
}

/**
 * Writes the cache entry of a profile: first the copy of its bytes (named by its fingerprint), then
 * the entry that names it, each in one rename, so a shell never reads half of either. `render` gives
 * the entry's code for the copy's path. Best effort: a cache that cannot be written only costs speed.
 */
export async function cacheActivation(
  root: string,
  family: ShellFamily,
  profile: {file: string; fingerprint: string; content: Buffer},
  render: (copy: string) => string,
): Promise<void> {
  try {
    if (!(await prepareHookCache(root))) return
    const entry = cacheEntryPath(root, family, profile.file)
    const directory = dirname(entry)
    const copy = join(directory, `${basename(profile.file)}.${profile.fingerprint}`)
    await mkdir(directory, {recursive: true, mode: 0o700})
    await writeAtomically(copy, profile.content)
    await writeAtomically(entry, render(copy))
    // Copies of earlier versions of this profile: no entry names them any more.
    const prefix = `${basename(profile.file)}.`
    for (const name of await readdir(directory)) {
      const earlier = name.startsWith(prefix) && /^[0-9a-f]{64}$/.test(name.slice(prefix.length)) && name !== basename(copy)
      if (earlier) await rm(join(directory, name), {force: true})
    }
  } catch {
    // Nothing to do: the next directory change asks the entry point again.
  }
}

/** Creates `directory` if need be; true when it is a directory (not a link) of this user's that no one else may enter. */
async function ownPrivateDirectory(directory: string): Promise<boolean> {
  try {
    await mkdir(directory, {recursive: true, mode: 0o700})
    const info = await lstat(directory)
    if (!info.isDirectory() || info.uid !== process.getuid?.()) return false
    if ((info.mode & 0o077) !== 0) await chmod(directory, 0o700)
    return true
  } catch {
    return false
  }
}

async function writeAtomically(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temporary, data, {mode: 0o600, flag: 'wx'})
    await rename(temporary, path)
  } finally {
    await rm(temporary, {force: true})
  }
}
