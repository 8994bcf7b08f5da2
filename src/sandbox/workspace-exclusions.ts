import type {Dirent} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import ignore, {type Ignore} from 'ignore'

/** Git's ignore file, honoured in every directory the walk enters. */
const GITIGNORE = '.gitignore'

/** `secure`'s own ignore file: at the repository root only, applied after every `.gitignore`. */
const SECUREIGNORE = '.secureignore'

/**
 * Matching is case-sensitive, as git's is by default (`core.ignorecase=false`) and as the
 * container's tar compares the names it is given; the `ignore` package defaults to the opposite.
 */
const MATCH_OPTIONS = {ignorecase: false}

/**
 * How many directories are read at once: enough to keep libuv's thread pool busy, few enough that
 * a wide tree cannot run the process out of file descriptors.
 */
const READ_CONCURRENCY = 16

/**
 * Why a directory below the root, or an ignore file, may fail to read without failing the list:
 * it is unreadable (tar will warn about a directory in the container), nested too deep for its
 * path to be named, or it went away while the walk ran.
 */
const SKIPPED_READ_ERRORS = new Set(['EACCES', 'EPERM', 'ENAMETOOLONG', 'ENOENT', 'ENOTDIR'])

/**
 * GNU tar reads `-X FILE` one line per name and trims trailing white space (C `isspace`) from each
 * line, so a path holding a newline or ending in white space cannot be named there: trimmed, it
 * could even name a different file. Such paths are left off the list, which means they are copied.
 */
const UNEXPRESSIBLE_IN_EXCLUDE_FILE = /\n|[\t\v\f\r ]$/

/**
 * Rules in force in one directory: the `.gitignore`s from the root down to it, then `.secureignore`.
 * Undefined stands for no rules at all, so that a tree without ignore files costs no matching.
 */
interface Scope {
  gitignoreRules: Ignore | undefined
  /** `gitignoreRules` followed by `.secureignore`'s: the last rule to match decides. */
  rules: Ignore | undefined
}

/** What every directory of one walk shares. */
interface Walk {
  repository: string
  secureignoreRules: Ignore | undefined
  excluded: string[]
  withReadSlot: <T>(read: () => Promise<T>) => Promise<T>
}

/**
 * The repository paths (relative, POSIX separators, each prefixed with "./" exactly as
 * `tar -C repo -c .` names them) that the workspace copy leaves out: the top-most ignored entries
 * only (an ignored directory is listed once and not walked).
 *
 * Sources, lowest precedence first: every `.gitignore` in the tree (each relative to its own
 * directory, a deeper one overriding a shallower one), then `.secureignore` at the root, which can
 * add exclusions and re-include with `!pattern`. As in git, nothing below an excluded directory
 * can be re-included, symlinks are entries (never followed), and `.git` is out of reach of
 * `.gitignore`: only `.secureignore` can exclude it, and then as a whole.
 *
 * Always walks the whole tree, even without a root `.gitignore` or `.secureignore`, since a nested
 * `.gitignore` applies on its own: reading the 200 directories of a 20,000-file tree takes some
 * 15–30 ms, and matching its entries, when there are rules, 20–60 ms more.
 *
 * Unreadable directories below the root are skipped silently; a missing repository throws.
 * The list is sorted.
 */
export async function listWorkspaceExclusions(repository: string): Promise<string[]> {
  // Read outside the walk's error handling: a missing or unreadable repository is the caller's error.
  const rootEntries = await readdir(repository, {withFileTypes: true})
  const secureignore = await readIgnoreFile(repository, rootEntries, SECUREIGNORE)
  const secureignoreRules = secureignore === undefined ? undefined : ignore(MATCH_OPTIONS).add(secureignore)
  const walk: Walk = {repository, secureignoreRules, excluded: [], withReadSlot: createLimiter(READ_CONCURRENCY)}
  await walkDirectory(walk, '', rootEntries, {gitignoreRules: undefined, rules: secureignoreRules})
  return walk.excluded.sort()
}

/**
 * Records the excluded entries of one directory (`directory` relative to the repository, '' for
 * the root) and walks the others that are real directories.
 */
async function walkDirectory(walk: Walk, directory: string, entries: Dirent[], parentScope: Scope): Promise<void> {
  const scope = await scopeOf(walk, directory, entries, parentScope)
  const subdirectories: string[] = []
  for (const entry of entries) {
    const path = directory === '' ? entry.name : `${directory}/${entry.name}`
    // `isDirectory()` comes from the directory listing, so it is false for a symlink to a directory:
    // such a link is tested as a file (git's view) and never followed.
    const isDirectory = entry.isDirectory()
    // Git never applies its ignore rules to `.git`, nor looks inside it; `.secureignore` may still
    // exclude it, whole (a partial `.git` would be a broken repository).
    const isGitMetadata = entry.name === '.git'
    const rules = isGitMetadata ? walk.secureignoreRules : scope.rules
    // A trailing slash lets directory-only patterns (`node_modules/`) match.
    if (rules?.ignores(isDirectory ? `${path}/` : path)) {
      if (!UNEXPRESSIBLE_IN_EXCLUDE_FILE.test(path)) walk.excluded.push(`./${path}`)
    } else if (isDirectory && !isGitMetadata) {
      subdirectories.push(path)
    }
  }
  await Promise.all(subdirectories.map(async (subdirectory) => walkDirectory(walk, subdirectory, await readSubdirectory(walk, subdirectory), scope)))
}

/** The rules of `directory`: its parent's, extended by its own `.gitignore` if it has one. */
async function scopeOf(walk: Walk, directory: string, entries: Dirent[], parentScope: Scope): Promise<Scope> {
  const gitignore = await walk.withReadSlot(() => readIgnoreFile(join(walk.repository, directory), entries, GITIGNORE))
  if (gitignore === undefined) return parentScope
  // The root file needs no rewriting: `ignore` parses it as it is.
  const patterns = directory === '' ? gitignore : scopePatternsToDirectory(gitignore, directory)
  const gitignoreRules = appendRules(parentScope.gitignoreRules, patterns)
  return {gitignoreRules, rules: walk.secureignoreRules ? appendRules(gitignoreRules, walk.secureignoreRules) : gitignoreRules}
}

/**
 * A new rule list: `first`'s rules (if any) then `then`. `first` is left as it is, since other
 * directories still use it; its compiled rules are shared, not copied.
 */
function appendRules(first: Ignore | undefined, then: Ignore | string | string[]): Ignore {
  const rules = ignore(MATCH_OPTIONS)
  if (first) rules.add(first)
  return rules.add(then)
}

/** The entries of a directory below the root, or none if it cannot be read (see {@link SKIPPED_READ_ERRORS}). */
async function readSubdirectory(walk: Walk, directory: string): Promise<Dirent[]> {
  try {
    return await walk.withReadSlot(() => readdir(join(walk.repository, directory), {withFileTypes: true}))
  } catch (error) {
    if (SKIPPED_READ_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) return []
    throw error
  }
}

/**
 * The text of the ignore file `name` in `directory`, or undefined if there is none. Only a regular
 * file counts: like git (since 2.32), a symlinked ignore file is not followed, which also keeps a
 * FIFO or a link to a host file from being read. An unreadable one is skipped, as git does.
 */
async function readIgnoreFile(directory: string, entries: Dirent[], name: string): Promise<string | undefined> {
  if (!entries.some((entry) => entry.name === name && entry.isFile())) return undefined
  try {
    return await readFile(join(directory, name), 'utf8')
  } catch (error) {
    if (SKIPPED_READ_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) return undefined
    throw error
  }
}

/**
 * A `.gitignore`'s patterns rewritten relative to the repository root, so that a single rule list
 * (root file first, deeper files later, `.secureignore` last) gives git's precedence: the last rule
 * to match wins. Git anchors a pattern with a slash at its start or middle to the file's own
 * directory; one without (a trailing slash only means "directories only") matches at any depth
 * below it.
 */
function scopePatternsToDirectory(content: string, directory: string): string[] {
  const prefix = escapeGlob(directory)
  const patterns: string[] = []
  for (const rawLine of content.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    // Trimmed first, or `foo/ ` would look like it had a slash in its middle.
    const line = trimUnescapedTrailingSpaces(rawLine)
    if (line === '' || line.startsWith('#')) continue
    const negated = line.startsWith('!')
    const body = negated ? line.slice(1) : line
    // `/` alone (or `!/`) names nothing; prefixed, it would name the directory itself.
    if (body.replaceAll('/', '') === '') continue
    const anchored = body.slice(0, -1).includes('/')
    const scoped = anchored ? `${prefix}/${body.replace(/^\//, '')}` : `${prefix}/**/${body}`
    patterns.push(negated ? `!${scoped}` : scoped)
  }
  return patterns
}

/**
 * `path` as a pattern matching only itself: glob characters escaped, and `!` and `#` too, since at
 * the start of a pattern they would make it a negation or a comment.
 */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]!#]/g, '\\$&')
}

/** Git's `trim_trailing_spaces`: trailing spaces are dropped, from the first one not escaped with a backslash. */
function trimUnescapedTrailingSpaces(line: string): string {
  let trailingSpacesFrom: number | undefined
  for (let index = 0; index < line.length; index++) {
    if (line[index] === ' ') {
      trailingSpacesFrom ??= index
    } else {
      trailingSpacesFrom = undefined
      // A backslash escapes the next character, space or not.
      if (line[index] === '\\') index++
    }
  }
  return line.slice(0, trailingSpacesFrom)
}

/** Runs at most `limit` reads at a time; the others wait their turn, in order. */
function createLimiter(limit: number): <T>(read: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: Array<() => void> = []
  return async (read) => {
    if (running < limit) running++
    // A finishing read hands its slot straight to the next waiting one, so `running` stays as it is.
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      return await read()
    } finally {
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}
