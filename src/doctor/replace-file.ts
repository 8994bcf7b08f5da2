import {randomBytes} from 'node:crypto'
import {chmod, mkdir, open, readFile, realpath, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {PolicyError} from '../errors.js'

/** How {@link replaceFileAtomically} writes. */
export interface ReplaceFileOptions {
  /**
   * What the file must still hold (undefined: it must not exist), checked just before the rename:
   * a file someone changed since it was read is refused rather than overwritten.
   */
  expected: string | undefined
  /** The mode of a file that does not exist yet; an existing file keeps its own. */
  newFileMode: number
  /** How messages name the file: `~/.npmrc`. */
  shownAs: string
  /** Checks the written temporary file before it replaces the real one (throws to refuse). */
  verify?: (temporaryFile: string) => Promise<void>
}

/**
 * Replaces `path`'s contents all at once: a reader (or a crash) sees the old file or the new one,
 * never half of either. The new text goes to a temporary file beside the real one (a link is
 * followed, so a dotfile kept in a repository stays a link), with the same mode, is flushed to
 * disk, and is renamed over it; then the directory is flushed, so the rename survives a crash.
 */
export async function replaceFileAtomically(path: string, text: string, options: ReplaceFileOptions): Promise<void> {
  const target = await realpath(path).catch(() => path)
  const mode = await stat(target).then((info) => info.mode & 0o7777, () => options.newFileMode)
  await mkdir(dirname(target), {recursive: true})
  const temporary = join(dirname(target), `.${basename(target)}.secure-${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temporary, 'wx', mode)
    try {
      await handle.writeFile(text)
      // The umask may have narrowed the mode open() was given.
      await chmod(temporary, mode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await options.verify?.(temporary)
    const current = await readFile(target, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    })
    if (current !== options.expected) {
      throw new PolicyError(`${options.shownAs} changed while secure doctor --fix was running`, {code: 'DOCTOR_FILE_CHANGED', hint: 'run secure doctor --fix again'})
    }
    await rename(temporary, target)
  } catch (error) {
    await rm(temporary, {force: true})
    throw error
  }
  await syncDirectory(dirname(target))
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined)
  // Some platforms and file systems cannot fsync a directory; the rename itself is still atomic.
  await handle?.sync().catch(() => undefined)
  await handle?.close()
}
