import {access} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {xdgCache, xdgConfig, xdgData, xdgState} from 'xdg-basedir'

import {BugError, EnvironmentError} from './errors.js'

/** Where `secure` keeps its files, following the XDG base directory spec. */
export interface SecurePaths {
  /** The user's own config: which directories get which profile, and how to reach 1Password. */
  configFile: string
  /** The allow and deny lists for repository profiles. */
  trustDirectory: string
  /** The hash-chained audit log. */
  auditLog: string
  /** What `secure watch` already reported and verified. */
  watchState: string
  /** Downloads worth keeping between runs (the Node.js tarballs sandbox images are built from). */
  cacheDirectory: string
  /** The user's home, for `~` in paths and item titles. */
  home: string
}

/** The XDG paths of this process (xdg-basedir reads them from the environment at start-up). */
export function resolveSecurePaths(): SecurePaths {
  if (!xdgConfig || !xdgData || !xdgState || !xdgCache) {
    throw new EnvironmentError('cannot tell where to keep secure\'s files: no home directory', {
      code: 'NO_HOME',
      hint: 'set HOME, or XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_STATE_HOME and XDG_CACHE_HOME',
    })
  }
  return {
    configFile: join(xdgConfig, 'secure', 'config.toml'),
    trustDirectory: join(xdgData, 'secure'),
    auditLog: join(xdgState, 'secure', 'audit.jsonl'),
    watchState: join(xdgState, 'secure', 'watch.json'),
    cacheDirectory: join(xdgCache, 'secure'),
    home: homedir(),
  }
}

/** Shows a path the way the user thinks of it: `~/src/project` rather than `/home/me/src/project`. */
export function displayPath(path: string, home: string): string {
  if (path === home) return '~'
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path
}

/** Expands a leading `~` to the home directory. */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home
  return path.startsWith('~/') ? join(home, path.slice(2)) : path
}

/**
 * The directory of secure's package.json, which ships `templates/`. Searched for rather than fixed:
 * a module sits at a different depth in src/ than in the bundle in dist/.
 */
export async function findPackageRoot(): Promise<string> {
  for (let directory = dirname(fileURLToPath(import.meta.url)); ; directory = dirname(directory)) {
    if (await access(join(directory, 'package.json')).then(() => true, () => false)) return directory
    if (dirname(directory) === directory) {
      throw new BugError('cannot find secure\'s own package.json', {code: 'PACKAGE_ROOT_NOT_FOUND', hint: 'reinstall secure'})
    }
  }
}
