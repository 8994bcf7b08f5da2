import {homedir} from 'node:os'
import {join} from 'node:path'
import {xdgConfig, xdgData, xdgState} from 'xdg-basedir'

import {EnvironmentError} from './errors.js'

/** Where `secure` keeps its files, following the XDG base directory spec. */
export interface SecurePaths {
  /** The user's own config: which directories get which profile, and how to reach 1Password. */
  configFile: string
  /** The allow and deny lists for repository profiles. */
  trustDirectory: string
  /** The hash-chained audit log. */
  auditLog: string
  /** The user's home, for `~` in paths and item titles. */
  home: string
}

/** The XDG paths of this process (xdg-basedir reads them from the environment at start-up). */
export function resolveSecurePaths(): SecurePaths {
  if (!xdgConfig || !xdgData || !xdgState) {
    throw new EnvironmentError('cannot tell where to keep secure\'s files: no home directory', {
      code: 'NO_HOME',
      hint: 'set HOME, or XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_STATE_HOME',
    })
  }
  return {
    configFile: join(xdgConfig, 'secure', 'config.toml'),
    trustDirectory: join(xdgData, 'secure'),
    auditLog: join(xdgState, 'secure', 'audit.jsonl'),
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
