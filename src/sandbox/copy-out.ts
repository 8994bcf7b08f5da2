/**
 * `secure run --out PATH`: copies what the suite produced at PATH in the container's throwaway
 * copy back into the user's checkout. Everything in the archive is chosen by the untrusted code, so
 * only regular files are written, never executable, never through a symbolic link, and never
 * where a tool on the host would read them as configuration or run them.
 */
import {constants} from 'node:fs'
import {lstat, mkdir, open} from 'node:fs/promises'
import {join} from 'node:path'
import {type Extract, extract} from 'tar-stream'

import {PolicyError, UsageError} from '../errors.js'

/** What one --out copy did. */
export interface CopyOutResult {
  /** The files written, relative to the repository. */
  written: string[]
  /** The archive's entries left out, relative to the repository where they map into it, each with why. */
  skipped: {path: string; reason: string}[]
}

/**
 * Names refused anywhere in an --out path or in the archive. Each is read or run by a tool on the
 * host without the user asking: version control (hooks, config), installed packages and virtual
 * environments (executables on PATH under `npm run`, `.venv/bin`), and the dot-files that configure
 * package managers, direnv, version managers, git and pre-commit (`.env` is loaded by pipenv and
 * direnv's `dotenv`; `.lfsconfig` can send git's credentials elsewhere). Compared lower-cased: macOS
 * checkouts are usually case-insensitive.
 */
const HOST_TOOL_NAMES: ReadonlySet<string> = new Set([
  '.git',
  '.hg',
  '.svn',
  'node_modules',
  '.venv',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pnpmfile.cjs',
  '.envrc',
  '.env',
  '.secure.toml',
  '.gitmodules',
  '.gitattributes',
  '.gitignore',
  '.lfsconfig',
  '.pre-commit-config.yaml',
  '.tool-versions',
  '.mise.toml',
  '.nvmrc',
  '.python-version',
])

/** Code points HFS+ ignores in names, so `.g\u200Cit` is `.git` there (as git's own check knows). */
const HFS_IGNORED = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/gu

/** C0 and C1 controls: in a name they could rewrite the terminal the skip is reported on. */
const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/u

const DEFAULT_MAX_BYTES = 1024 ** 3

/** Nothing copied out can be run directly: no execute, setuid, setgid or sticky bits. */
const FILE_MODE = 0o644
const DIRECTORY_MODE = 0o755

/**
 * O_NOFOLLOW: a symbolic link already at the destination is refused (ELOOP), not written through.
 * O_NONBLOCK: a FIFO there fails at once instead of waiting for a reader.
 */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK

/** One entry of the archive: its header, and a stream of its content. */
type Entry = Extract extends AsyncIterable<infer Source> ? Source : never

/** One copy in progress: where it goes, its cap, and how much it has written. */
interface Copy {
  repository: string
  /** The --out path's components. */
  outPath: readonly string[]
  maxBytes: number
  bytesWritten: number
}

/** Why the archive's entries other than regular files and directories are left out. */
const SKIPPED_TYPES: Readonly<Record<string, string>> = {
  symlink: 'a symbolic link',
  link: 'a hard link',
  'character-device': 'a device',
  'block-device': 'a device',
  fifo: 'a FIFO',
}

const RELATIVE_HINT = 'name a path inside the repository, relative to its root, as in --out coverage'

/**
 * Checks an --out PATH before the run, so a bad one fails before the suite runs.
 *
 * @returns the path normalised: no `.` components, no empty ones, no trailing `/`
 * @throws UsageError (`OUT_PATH_REFUSED`) for a path outside the repository or one a host tool
 *   reads or runs
 */
export function verifyOutPath(requestedPath: string): string {
  const refuse = (why: string, hint: string) => new UsageError(`--out ${JSON.stringify(requestedPath)}: ${why}`, {code: 'OUT_PATH_REFUSED', hint})
  if (requestedPath.startsWith('/')) throw refuse('is absolute', RELATIVE_HINT)
  const components = splitPath(requestedPath)
  if (components.includes('..')) throw refuse('leaves the repository', RELATIVE_HINT)
  if (components.length === 0) throw refuse('names no path inside the repository', RELATIVE_HINT)
  const refusal = refusalOf(components)
  if (refusal !== undefined) throw refuse(refusal, 'name a build output instead, as in --out coverage or --out junit.xml')
  return components.join('/')
}

/**
 * Writes the regular files of a container's archive of `requestedPath` (repository-relative, as the
 * user typed it) under `repository` on the host, at the same relative place. The archive is the
 * engine's (dockerode's `getArchive`): its top entry is named after the last component of the path.
 *
 * @param limits.maxBytes the most bytes written in all (default 1 GiB)
 * @throws UsageError (`OUT_PATH_REFUSED`) as {@link verifyOutPath}
 * @throws PolicyError (`OUT_TOO_LARGE`) once the files would exceed `maxBytes`; those before stay written
 */
export async function copyOutOfArchive(
  archive: NodeJS.ReadableStream,
  repository: string,
  requestedPath: string,
  limits: {maxBytes?: number} = {},
): Promise<CopyOutResult> {
  try {
    const outPath = splitPath(verifyOutPath(requestedPath))
    return await copyEntries(archive, {repository, outPath, maxBytes: limits.maxBytes ?? DEFAULT_MAX_BYTES, bytesWritten: 0})
  } catch (error) {
    // Stopped before the end: dockerode's archive is an HTTP response, which left paused would hold
    // the engine's connection open.
    release(archive)
    throw error
  }
}

/** Reads the archive one entry at a time: the parser waits for each entry to be written or drained. */
async function copyEntries(archive: NodeJS.ReadableStream, copy: Copy): Promise<CopyOutResult> {
  const result: CopyOutResult = {written: [], skipped: []}
  const entries = extract()
  archive.on('error', (error: Error) => entries.destroy(error))
  archive.pipe(entries)
  for await (const entry of entries) {
    const outcome = await copyEntry(entry, copy)
    if (outcome !== undefined && 'written' in outcome) {
      result.written.push(outcome.written)
      continue
    }

    // Left unread, the entry would stall the parser.
    entry.resume()
    if (outcome !== undefined) result.skipped.push(outcome.skipped)
  }

  return result
}

/**
 * Writes one entry if it is a regular file that may go where it names, and says where it went (as a
 * repository-relative path) or why not. Nothing for a directory: they are made as the files in them
 * need them.
 */
async function copyEntry(entry: Entry, copy: Copy): Promise<{written: string} | {skipped: {path: string; reason: string}} | undefined> {
  const {repository, outPath, maxBytes} = copy
  const {name, type, size = 0} = entry.header
  if (type === 'directory') return undefined
  const destination = mapEntryName(name, outPath)
  if (typeof destination === 'string') return {skipped: {path: printable(name), reason: destination}}
  const path = printable(destination.join('/'))
  // Only regular files: a link, device or FIFO from the container could reach or block the host.
  if (type !== 'file') return {skipped: {path, reason: SKIPPED_TYPES[type] ?? 'not a regular file'}}
  const refusal = refusalOf(destination)
  if (refusal !== undefined) return {skipped: {path, reason: refusal}}
  if (copy.bytesWritten + size > maxBytes) throw tooLarge(outPath, maxBytes)
  const hostRefusal = (await prepareDirectories(repository, destination.slice(0, -1))) ?? (await destinationRefusal(repository, destination))
  if (hostRefusal !== undefined) return {skipped: {path, reason: hostRefusal}}
  // tar-stream's entries yield Buffers.
  if (!(await writeRegularFile(join(repository, ...destination), entry as AsyncIterable<Uint8Array>))) {
    return {skipped: {path, reason: `a symbolic link on the host at ${path}`}}
  }

  copy.bytesWritten += size
  return {written: path}
}

/**
 * Where an entry goes, as components relative to the repository, or why it goes nowhere. The
 * archive's top entry is named after the last component of the --out path: `coverage/x` maps to
 * `build/coverage/x` for `--out build/coverage`.
 */
function mapEntryName(name: string, outPath: readonly string[]): string[] | string {
  if (name.startsWith('/')) return 'an absolute path'
  const [top, ...rest] = splitPath(name)
  if (top === '..' || rest.includes('..')) return 'a path with ..'
  if (top !== outPath.at(-1)) return `outside ${outPath.join('/')}`
  return [...outPath, ...rest]
}

/** Why a repository-relative path must not be written, by the rules of {@link verifyOutPath}. */
function refusalOf(components: readonly string[]): string | undefined {
  for (const [index, component] of components.entries()) {
    if (CONTROL_CHARACTERS.test(component)) return `${JSON.stringify(component)} has control characters`
    const name = component.toLowerCase().replaceAll(HFS_IGNORED, '')
    if (HOST_TOOL_NAMES.has(name)) return `"${component}" is read or run by tools on the host`
    // A dot-directory (.github, .vscode, .husky, ...) configures a tool the host runs; only a file may be dot-named.
    if (name.startsWith('.') && index < components.length - 1) return `"${component}" is a dot-directory, which configures tools on the host`
  }

  return undefined
}

/**
 * Makes sure each of `directories`, from the repository down, is a real directory, creating the
 * missing ones. A symbolic link in the checkout (git checks them out) is never followed: it could
 * point anywhere on the host. Checked, then used: nothing untrusted runs on the host meanwhile (the
 * suite ran in the container, on a copy), and O_NOFOLLOW still guards the file itself.
 */
async function prepareDirectories(repository: string, directories: readonly string[]): Promise<string | undefined> {
  for (let depth = 1; depth <= directories.length; depth++) {
    const path = directories.slice(0, depth)
    const kind = await hostKind(join(repository, ...path))
    if (kind === 'missing') await mkdir(join(repository, ...path), {mode: DIRECTORY_MODE})
    else if (kind === 'symlink') return `a symbolic link on the host at ${path.join('/')}`
    else if (kind !== 'directory') return `not a directory on the host at ${path.join('/')}`
  }

  return undefined
}

/** Why the destination itself cannot be written: only a missing or regular file can. */
async function destinationRefusal(repository: string, destination: readonly string[]): Promise<string | undefined> {
  const kind = await hostKind(join(repository, ...destination))
  if (kind === 'symlink') return `a symbolic link on the host at ${destination.join('/')}`
  if (kind === 'directory' || kind === 'other') return `not a regular file on the host at ${destination.join('/')}`
  return undefined
}

/** What is at a host path, without following a symbolic link there. */
async function hostKind(path: string): Promise<'missing' | 'symlink' | 'directory' | 'file' | 'other'> {
  try {
    const stats = await lstat(path)
    if (stats.isSymbolicLink()) return 'symlink'
    if (stats.isDirectory()) return 'directory'
    return stats.isFile() ? 'file' : 'other'
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
}

/**
 * Writes one file, mode 0644 whatever the archive says. False, with nothing written, if a symbolic
 * link appeared at the destination after it was checked: O_NOFOLLOW refuses to write through it.
 */
async function writeRegularFile(destination: string, content: AsyncIterable<Uint8Array>): Promise<boolean> {
  let handle
  try {
    handle = await open(destination, WRITE_FLAGS, FILE_MODE)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return false
    throw error
  }

  try {
    // An existing file keeps its mode through O_TRUNC, and the umask narrows a new one's: set it outright.
    await handle.chmod(FILE_MODE)
    await handle.writeFile(content)
    return true
  } finally {
    await handle.close()
  }
}

function tooLarge(outPath: readonly string[], maxBytes: number): PolicyError {
  return new PolicyError(`--out ${outPath.join('/')}: more than ${describeSize(maxBytes)} to copy out`, {
    code: 'OUT_TOO_LARGE',
    hint: 'name a smaller path with --out',
  })
}

function describeSize(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`
  return `${bytes} bytes`
}

/** A path's components, without empty and `.` ones: `./coverage//x/` is `coverage`, `x`. */
function splitPath(path: string): string[] {
  return path.split('/').filter((component) => component !== '' && component !== '.')
}

/** The text with its control characters escaped, for reporting a name the archive chose. */
function printable(text: string): string {
  return text.replaceAll(new RegExp(CONTROL_CHARACTERS, 'gu'), (character) => `\\u${character.codePointAt(0)!.toString(16).padStart(4, '0')}`)
}

/** Stops reading an archive that will not be read to its end. */
function release(archive: NodeJS.ReadableStream): void {
  if ('destroy' in archive && typeof archive.destroy === 'function') archive.destroy()
}
