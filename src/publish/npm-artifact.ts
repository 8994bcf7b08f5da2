import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'

import {EnvironmentError} from '../errors.js'
import {readGzippedTar} from './tarball.js'

/** What a package tarball holds, as far as a release review needs. */
export interface NpmArtifact {
  /** `sha512-<base64>`, as npm and the registry state it (`dist.integrity`). */
  integrity: string
  /** Every file, by its path inside the package (without npm's `package/` prefix). */
  files: ReadonlyArray<{path: string; size: number}>
  manifest: PackageManifest
}

/** The package.json fields a reviewer must see change. */
export interface PackageManifest {
  name: string
  version: string
  scripts: Record<string, string>
  bin: Record<string, string>
  publishConfig: Record<string, unknown>
}

/** Scripts npm runs on the machine of everyone who installs the package. */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

/** Reads a package tarball: its integrity, files and manifest. */
export async function readNpmArtifact(bytes: Buffer, where: string): Promise<NpmArtifact> {
  const files: Array<{path: string; size: number}> = []
  let manifestText: string | undefined
  const inPackage = (name: string) => name.replace(/^[^/]+\//, '')
  try {
    for (const entry of await readGzippedTar(bytes, (name) => inPackage(name) === 'package.json')) {
      const path = inPackage(entry.name)
      if (entry.type === 'file') files.push({path, size: entry.size})
      if (entry.content) manifestText = entry.content.toString('utf8')
    }
  } catch (error) {
    throw new EnvironmentError(`${where} is not a readable package tarball (${(error as Error).message})`, {code: 'PUBLISH_BAD_TARBALL', hint: 'check the build: npm pack must produce it'})
  }
  if (manifestText === undefined) throw new EnvironmentError(`${where} has no package.json`, {code: 'PUBLISH_BAD_TARBALL', hint: 'check the build: npm pack must produce it'})
  const manifest = JSON.parse(manifestText) as Partial<PackageManifest> & {bin?: string | Record<string, string>}
  return {
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
    files: files.sort((a, b) => a.path.localeCompare(b.path)),
    manifest: {
      name: String(manifest.name),
      version: String(manifest.version),
      scripts: manifest.scripts ?? {},
      // A string bin is the package's own name (npm's normalisation).
      bin: typeof manifest.bin === 'string' ? {[String(manifest.name).replace(/^@[^/]+\//, '')]: manifest.bin} : (manifest.bin ?? {}),
      publishConfig: manifest.publishConfig ?? {},
    },
  }
}

/** Reads a tarball file from disk. */
export async function readNpmArtifactFile(file: string): Promise<NpmArtifact> {
  return readNpmArtifact(await readFile(file), file)
}

/**
 * The review a human signs off: what goes out, and what changed against the latest published
 * version that could hurt the people who install it.
 */
export function describeRelease(artifact: NpmArtifact, previous: NpmArtifact | undefined): string[] {
  const {name, version} = artifact.manifest
  const total = artifact.files.reduce((sum, file) => sum + file.size, 0)
  const lines = [`${name}@${version}: ${artifact.files.length} files, ${formatSize(total)}`]
  const width = Math.max(...artifact.files.map((file) => formatSize(file.size).length))
  for (const file of artifact.files) lines.push(`  ${formatSize(file.size).padStart(width)}  ${file.path}`)
  lines.push(`integrity ${artifact.integrity}`)
  if (!previous) {
    lines.push('first release: nothing published to compare with')
    return lines
  }
  lines.push(`changes since ${previous.manifest.version}:`)
  const before = new Set(previous.files.map((file) => file.path))
  const after = new Set(artifact.files.map((file) => file.path))
  const changes: string[] = []
  for (const path of after) if (!before.has(path)) changes.push(`  new file       ${path}`)
  for (const path of before) if (!after.has(path)) changes.push(`  removed file   ${path}`)
  for (const script of INSTALL_SCRIPTS) {
    const old = previous.manifest.scripts[script]
    const now = artifact.manifest.scripts[script]
    if (now !== undefined && now !== old) changes.push(`  ${old === undefined ? 'NEW' : 'CHANGED'} INSTALL SCRIPT ${script}: ${now}`)
  }
  for (const [command, target] of Object.entries(artifact.manifest.bin)) {
    if (previous.manifest.bin[command] !== target) changes.push(`  ${previous.manifest.bin[command] === undefined ? 'new' : 'changed'} bin      ${command} -> ${target}`)
  }
  if (JSON.stringify(artifact.manifest.publishConfig) !== JSON.stringify(previous.manifest.publishConfig)) {
    changes.push(`  CHANGED publishConfig: ${JSON.stringify(previous.manifest.publishConfig)} -> ${JSON.stringify(artifact.manifest.publishConfig)}`)
  }
  lines.push(...(changes.length > 0 ? changes : ['  no new or removed files, install scripts, bin entries or publishConfig']))
  return lines
}

/** A size as people read it: `512 B`, `2.0 kB`, `1.3 MB`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} kB`
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`
}
