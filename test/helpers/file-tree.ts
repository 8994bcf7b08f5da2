import {lstat, readFile, readdir, readlink} from 'node:fs/promises'
import {join, relative} from 'node:path'

/**
 * Every file under `directory` (recursively), relative path → its bytes in base64, a link as
 * `-> target`: two snapshots are equal when not a byte, mode aside, changed. Paths starting with an
 * entry of `exclude` (relative) are left out.
 */
export async function snapshotFiles(directory: string, exclude: readonly string[] = []): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  const visit = async (path: string) => {
    const name = relative(directory, path)
    if (exclude.some((excluded) => name.startsWith(excluded))) return
    const info = await lstat(path)
    if (info.isSymbolicLink()) files.set(name, `-> ${await readlink(path)}`)
    else if (info.isDirectory()) for (const entry of await readdir(path)) await visit(join(path, entry))
    else files.set(name, (await readFile(path)).toString('base64'))
  }
  await visit(directory)
  return files
}
