import {unzipSync} from 'fflate'

import {EnvironmentError} from '../errors.js'
import {formatSize} from './npm-artifact.js'
import {readGzippedTar} from './tarball.js'

/**
 * What a Python distribution holds, as far as a release review needs: the files, and what runs on
 * the machine of everyone who installs it. A wheel's `.pth` file runs at every start of Python
 * (the 2024-25 PyPI malware favourite); its console and GUI scripts are new commands on PATH; its
 * `.data/scripts/` are copied onto PATH as they are; a compiled extension is code nobody can read.
 */
export interface PythonDistribution {
  filename: string
  /** `sdist`, or the wheel's tags (`py3-none-any`). */
  kind: string
  /** Every file, by its path inside the distribution, the version written as `{version}`. */
  files: ReadonlyArray<{path: string; size: number}>
  /** `console_scripts` and `gui_scripts` entry points: command → `module:function`. */
  commands: ReadonlyMap<string, string>
}

/** Reads a wheel (a zip) or an sdist (a gzipped tar), in memory: nothing is written anywhere. */
export async function readPythonDistribution(bytes: Buffer, filename: string, version: string): Promise<PythonDistribution> {
  const generic = (path: string) => path.split(`-${version}.`).join('-{version}.')
  try {
    if (filename.endsWith('.whl')) {
      const files: Array<{path: string; size: number}> = []
      // The filter sees every entry; only entry_points.txt is inflated.
      const kept = unzipSync(bytes, {
        filter: (entry) => {
          if (!entry.name.endsWith('/')) files.push({path: generic(entry.name), size: entry.originalSize})
          return /^[^/]+\.dist-info\/entry_points\.txt$/.test(entry.name)
        },
      })
      const entryPoints = Object.values(kept)[0]
      return {filename, kind: wheelTags(filename), files: sortedByPath(files), commands: readCommands(entryPoints ? Buffer.from(entryPoints).toString('utf8') : '')}
    }
    const entries = await readGzippedTar(bytes, () => false)
    // An sdist's files sit in one top folder, `name-version/`.
    const files = entries.filter((entry) => entry.type === 'file').map((entry) => ({path: generic(entry.name.replace(/^[^/]+\//, '')), size: entry.size}))
    return {filename, kind: 'sdist', files: sortedByPath(files), commands: new Map()}
  } catch (error) {
    throw new EnvironmentError(`${filename} is not a readable distribution (${(error as Error).message})`, {code: 'PUBLISH_BAD_DISTRIBUTION', hint: 'check the build: python -m build must produce it'})
  }
}

/**
 * The review lines of one release: each distribution with its files, and against the latest
 * release, per kind of distribution: new and removed files, and what newly runs on install.
 */
export function describePythonRelease(
  release: {name: string; version: string},
  distributions: ReadonlyArray<PythonDistribution & {size: number; sha256: string}>,
  previous: {version: string; distributions: readonly PythonDistribution[]} | undefined,
): string[] {
  const lines = [`${release.name} ${release.version}: ${distributions.length} distribution files`]
  for (const distribution of distributions) {
    lines.push(`  ${formatSize(distribution.size).padStart(9)}  ${distribution.filename}  sha256 ${distribution.sha256}`)
    const width = Math.max(0, ...distribution.files.map((file) => formatSize(file.size).length))
    for (const file of distribution.files) lines.push(`      ${formatSize(file.size).padStart(width)}  ${file.path.replaceAll('{version}', release.version)}`)
    // Even on a first release: these run on every machine that installs it.
    for (const path of startupFiles(distribution)) lines.push(`      RUNS AT EVERY PYTHON START: ${path.replaceAll('{version}', release.version)}`)
  }
  if (!previous) {
    lines.push('first release: nothing published to compare with')
    return lines
  }
  lines.push(`changes since ${previous.version}:`)
  const changes: string[] = []
  const before = new Map(previous.distributions.map((distribution) => [distribution.kind, distribution]))
  for (const distribution of distributions) {
    const old = before.get(distribution.kind)
    if (!old) {
      changes.push(`  new distribution      ${distribution.kind}`)
      continue
    }
    const oldPaths = new Set(old.files.map((file) => file.path))
    const newPaths = new Set(distribution.files.map((file) => file.path))
    const shown = (path: string) => `${path.replaceAll('{version}', release.version)} (${distribution.kind})`
    for (const path of newPaths) if (!oldPaths.has(path)) changes.push(`  ${isRisky(path) ? 'NEW FILE THAT RUNS ON INSTALL' : 'new file'}  ${shown(path)}`)
    for (const path of oldPaths) if (!newPaths.has(path)) changes.push(`  removed file  ${shown(path)}`)
    for (const [command, target] of distribution.commands) {
      if (old.commands.get(command) !== target) changes.push(`  ${old.commands.has(command) ? 'CHANGED' : 'NEW'} COMMAND ${command} -> ${target} (${distribution.kind})`)
    }
  }
  for (const kind of before.keys()) if (!distributions.some((distribution) => distribution.kind === kind)) changes.push(`  dropped distribution  ${kind}`)
  lines.push(...(changes.length > 0 ? changes : ['  no new or removed distributions, files or commands']))
  return lines
}

/** A wheel's `.pth` files: site-packages runs their `import` lines whenever Python starts. */
function startupFiles(distribution: PythonDistribution): string[] {
  return distribution.files.map((file) => file.path).filter((path) => !path.includes('/') && path.endsWith('.pth'))
}

/** Files that run on the installer's machine: `.pth`, scripts copied onto PATH, compiled extensions, setup.py. */
function isRisky(path: string): boolean {
  return (!path.includes('/') && path.endsWith('.pth')) || /\.data\/scripts\//.test(path) || /\.(so|pyd|dylib)$/.test(path) || path === 'setup.py'
}

/** `name-1.0-py3-none-any.whl` → `py3-none-any` (PEP 427: the last three dash-separated fields). */
function wheelTags(filename: string): string {
  return filename.slice(0, -'.whl'.length).split('-').slice(-3).join('-')
}

/** The `[console_scripts]` and `[gui_scripts]` of an entry_points.txt (an INI file). */
function readCommands(text: string): Map<string, string> {
  const commands = new Map<string, string>()
  let section = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const header = /^\[(.+)\]$/.exec(line)
    if (header) section = header[1]!.trim()
    else if ((section === 'console_scripts' || section === 'gui_scripts') && line.includes('=')) {
      const cut = line.indexOf('=')
      commands.set(line.slice(0, cut).trim(), line.slice(cut + 1).trim())
    }
  }
  return commands
}

function sortedByPath<T extends {path: string}>(files: T[]): T[] {
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
