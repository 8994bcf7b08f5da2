import {createHash} from 'node:crypto'
import {parse as parseToml} from 'smol-toml'

import {EnvironmentError} from '../errors.js'
import {formatSize} from './npm-artifact.js'
import {readGzippedTar} from './tarball.js'

/** What a `.crate` holds, as far as a release review and the upload need. */
export interface CrateArtifact {
  name: string
  version: string
  /** The sha256 of the `.crate`, hex: what crates.io states as the version's `checksum`. */
  checksum: string
  /** Every file, by its path inside the crate (without cargo's `<name>-<version>/` prefix). */
  files: ReadonlyArray<{path: string; size: number}>
  /** The build script (it runs on every machine that builds a crate depending on this one), or undefined. */
  buildScript: {path: string; sha256: string} | undefined
  /** A procedural macro: its code runs inside the compiler of every dependent. */
  procMacro: boolean
  /** `package.publish`: false, or the registries it may go to (`crates-io` is crates.io); true when unset. */
  publish: boolean | string[]
  /** The commit `cargo package` recorded in `.cargo_vcs_info.json`, when it found a git checkout. */
  vcsCommit: string | undefined
  /** The metadata cargo sends ahead of the crate, as cargo builds it from the crate's own manifest. */
  metadata: NewCrate
}

/**
 * The publish request's metadata: crates-io's `NewCrate` (cargo `crates/crates-io/lib.rs`), its
 * fields in serde's order, absent options as null.
 */
export interface NewCrate {
  name: string
  vers: string
  deps: NewCrateDependency[]
  features: Record<string, string[]>
  authors: string[]
  description: string | null
  documentation: string | null
  homepage: string | null
  readme: string | null
  readme_file: string | null
  keywords: string[]
  categories: string[]
  license: string | null
  license_file: string | null
  repository: string | null
  badges: Record<string, Record<string, string>>
  links: string | null
  rust_version: string | null
}

/** crates-io's `NewCrateDependency`; `registry` and `explicit_name_in_toml` are left out when absent, as serde skips them. */
export interface NewCrateDependency {
  optional: boolean
  default_features: boolean
  name: string
  features: string[]
  version_req: string
  target: string | null
  kind: 'normal' | 'dev' | 'build'
  registry?: string
  explicit_name_in_toml?: string
}

/** The crates.io index: in the web API a dependency's `registry` is its index, and none means "this registry's own". */
export const CRATES_IO_INDEX = 'https://github.com/rust-lang/crates.io-index'

type Table = Record<string, unknown>

/**
 * Reads a `.crate` as `cargo package` writes it: a gzipped tar whose every entry is under
 * `<name>-<version>/`, with the normalized `Cargo.toml` cargo rewrote for publishing. The metadata
 * is built from that manifest, so it states exactly what the uploaded crate says.
 *
 * toCratesIo: whether the upload goes to crates.io, where a dependency from crates.io has no `registry`.
 */
export async function readCrate(bytes: Buffer, where: string, options: {toCratesIo: boolean}): Promise<CrateArtifact> {
  const broken = (problem: string) => new EnvironmentError(`${where} is not a crate as cargo packages it (${problem})`, {code: 'PUBLISH_BAD_CRATE', hint: 'check the build: cargo package must produce it'})
  let entries
  try {
    entries = await readGzippedTar(bytes, () => true)
  } catch (error) {
    throw broken((error as Error).message)
  }
  const root = entries[0]?.name.split('/')[0] ?? ''
  if (root === '' || entries.some((entry) => !entry.name.startsWith(`${root}/`) || entry.name.split('/').includes('..'))) throw broken(`every entry must be under one ${root || '<name>-<version>'}/ folder`)
  const contents = new Map(entries.filter((entry) => entry.type === 'file').map((entry) => [entry.name.slice(root.length + 1), entry.content!]))
  const manifestText = contents.get('Cargo.toml')
  if (!manifestText) throw broken('no Cargo.toml')
  let manifest: Table
  try {
    manifest = parseToml(manifestText.toString('utf8')) as Table
  } catch (error) {
    throw broken(`its Cargo.toml does not parse: ${(error as Error).message.split('\n')[0]}`)
  }
  const pkg = table(manifest.package)
  if (typeof pkg.name !== 'string' || typeof pkg.version !== 'string') throw broken('its Cargo.toml has no [package] name and version')
  if (root !== `${pkg.name}-${pkg.version}`) throw broken(`its folder ${root} is not ${pkg.name}-${pkg.version}`)

  const buildPath = typeof pkg.build === 'string' ? pkg.build : pkg.build === false ? undefined : contents.has('build.rs') ? 'build.rs' : undefined
  const buildContent = buildPath === undefined ? undefined : contents.get(buildPath)
  const vcs = contents.get('.cargo_vcs_info.json')
  const lib = table(manifest.lib)
  return {
    name: pkg.name,
    version: pkg.version,
    checksum: createHash('sha256').update(bytes).digest('hex'),
    files: [...contents].map(([path, content]) => ({path, size: content.length})).sort((a, b) => a.path.localeCompare(b.path)),
    buildScript: buildPath === undefined ? undefined : {path: buildPath, sha256: createHash('sha256').update(buildContent ?? '').digest('hex')},
    procMacro: lib['proc-macro'] === true || lib.proc_macro === true,
    publish: pkg.publish === false ? false : Array.isArray(pkg.publish) ? strings(pkg.publish) : true,
    vcsCommit: vcs ? (JSON.parse(vcs.toString('utf8')) as {git?: {sha1?: string}}).git?.sha1 : undefined,
    metadata: newCrateMetadata(manifest, (path) => contents.get(path)?.toString('utf8'), options),
  }
}

/**
 * The `NewCrate` cargo sends for this normalized manifest (cargo `src/cargo/ops/registry/publish.rs`,
 * `transmit`): every dependency with its requirement as cargo's semver prints it, its kind and
 * platform; the features as written; the readme's text; the package metadata.
 */
export function newCrateMetadata(manifest: Table, readFile: (path: string) => string | undefined, options: {toCratesIo: boolean}): NewCrate {
  const pkg = table(manifest.package)
  const readme = typeof pkg.readme === 'string' ? pkg.readme : null
  return {
    name: String(pkg.name),
    vers: String(pkg.version),
    deps: collectDependencies(manifest, options),
    features: sortedRecord(Object.entries(table(manifest.features)).map(([feature, values]) => [feature, strings(values)])),
    authors: strings(pkg.authors),
    description: text(pkg.description),
    documentation: text(pkg.documentation),
    homepage: text(pkg.homepage),
    readme: readme === null ? null : (readFile(readme) ?? null),
    readme_file: readme,
    keywords: strings(pkg.keywords),
    categories: strings(pkg.categories),
    license: text(pkg.license),
    license_file: text(pkg['license-file']),
    repository: text(pkg.repository),
    badges: sortedRecord(Object.entries(table(manifest.badges)).map(([badge, fields]) => [badge, sortedRecord(Object.entries(table(fields)).map(([key, value]) => [key, String(value)]))])),
    links: text(pkg.links),
    rust_version: text(pkg['rust-version']),
  }
}

const KINDS = [
  ['dependencies', 'normal'],
  ['dev-dependencies', 'dev'],
  ['build-dependencies', 'build'],
] as const

/** The dependencies in cargo's order: the plain tables, then each platform's, each table by name. */
function collectDependencies(manifest: Table, options: {toCratesIo: boolean}): NewCrateDependency[] {
  const tables: Array<{target: string | null; source: Table}> = [{target: null, source: manifest}]
  for (const [target, source] of Object.entries(table(manifest.target)).sort(byKey)) tables.push({target, source: table(source)})
  const deps: NewCrateDependency[] = []
  for (const {target, source} of tables) {
    for (const [key, kind] of KINDS) {
      // Older cargo wrote dev_dependencies and build_dependencies.
      const entries = {...table(source[key.replace('-', '_')]), ...table(source[key])}
      for (const [nameInToml, spec] of Object.entries(entries).sort(byKey)) {
        const dependency = typeof spec === 'string' ? {version: spec} : table(spec)
        // A dev-dependency without a version (a path one) is not published: cargo drops it.
        if (typeof dependency.version !== 'string') continue
        const registry = text(dependency['registry-index']) ?? (options.toCratesIo ? null : CRATES_IO_INDEX)
        const renamed = typeof dependency.package === 'string' && dependency.package !== nameInToml
        deps.push({
          optional: dependency.optional === true,
          default_features: (dependency['default-features'] ?? dependency.default_features) !== false,
          name: renamed ? String(dependency.package) : nameInToml,
          features: strings(dependency.features),
          version_req: cargoVersionRequirement(dependency.version),
          target,
          kind,
          ...(registry === null ? {} : {registry}),
          ...(renamed ? {explicit_name_in_toml: nameInToml} : {}),
        })
      }
    }
  }
  return deps
}

/**
 * A version requirement as cargo's semver crate prints it (`VersionReq`'s Display): a bare version
 * is a caret requirement (`1.0` → `^1.0`), `x` wildcards print as `*`, comparators are joined by `, `.
 */
export function cargoVersionRequirement(requirement: string): string {
  if (requirement.trim() === '*') return '*'
  return requirement
    .split(',')
    .map((comparator) => {
      const compact = comparator.trim().replace(/^(>=|<=|>|<|=|~|\^)\s+/, '$1')
      if (!/^\d/.test(compact)) return compact
      const parts = compact.split('.')
      return parts.some((part) => /^[*xX]$/.test(part)) ? parts.map((part) => (/^[*xX]$/.test(part) ? '*' : part)).join('.') : `^${compact}`
    })
    .join(', ')
}

/**
 * The review a human signs off: what goes out, and what changed against the latest published
 * version that runs code on the machines of those who depend on it (a build script, a proc macro)
 * or brings in code from elsewhere (dependencies).
 */
export function describeCrate(artifact: CrateArtifact, previous: CrateArtifact | undefined): string[] {
  const total = artifact.files.reduce((sum, file) => sum + file.size, 0)
  const lines = [`${artifact.name} ${artifact.version}: ${artifact.files.length} files, ${formatSize(total)}`]
  const width = Math.max(...artifact.files.map((file) => formatSize(file.size).length))
  for (const file of artifact.files) lines.push(`  ${formatSize(file.size).padStart(width)}  ${file.path}`)
  lines.push(`checksum sha256 ${artifact.checksum}`)
  if (artifact.vcsCommit) lines.push(`cargo packaged it from git commit ${artifact.vcsCommit}`)
  if (artifact.buildScript) lines.push(`build script ${artifact.buildScript.path}: it runs on every machine that builds a crate depending on this one`)
  if (artifact.procMacro) lines.push('proc macro: its code runs inside the compiler of every crate that uses it')
  if (!previous) {
    lines.push('first release: nothing published to compare with')
    return lines
  }
  lines.push(`changes since ${previous.version}:`)
  const before = new Set(previous.files.map((file) => file.path))
  const after = new Set(artifact.files.map((file) => file.path))
  const changes: string[] = []
  for (const path of after) if (!before.has(path)) changes.push(`  new file       ${path}`)
  for (const path of before) if (!after.has(path)) changes.push(`  removed file   ${path}`)
  if (artifact.buildScript && !previous.buildScript) changes.push(`  NEW BUILD SCRIPT ${artifact.buildScript.path}`)
  else if (artifact.buildScript && previous.buildScript && (artifact.buildScript.path !== previous.buildScript.path || artifact.buildScript.sha256 !== previous.buildScript.sha256)) changes.push(`  CHANGED BUILD SCRIPT ${artifact.buildScript.path}`)
  if (artifact.procMacro && !previous.procMacro) changes.push('  NOW A PROC MACRO')
  const dependency = (each: NewCrateDependency) => `${each.name} ${each.version_req} (${each.kind}${each.target ? `, ${each.target}` : ''}${each.registry ? `, from ${each.registry}` : ''})`
  const old = new Set(previous.metadata.deps.map(dependency))
  for (const each of artifact.metadata.deps.map(dependency)) if (!old.has(each)) changes.push(`  new dependency ${each}`)
  lines.push(...(changes.length > 0 ? changes : ['  no new or removed files, build script, proc macro or dependencies']))
  return lines
}

/**
 * The body of `PUT /api/v1/crates/new` (cargo's registry web API): the metadata JSON and the crate,
 * each after its length as a 32-bit little-endian number.
 */
export function framePublishRequest(metadata: NewCrate, crate: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(metadata), 'utf8')
  const length = (size: number) => {
    const bytes = Buffer.alloc(4)
    bytes.writeUInt32LE(size)
    return bytes
  }
  return Buffer.concat([length(json.length), json, length(crate.length), crate])
}

function table(value: unknown): Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Table) : {}
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : []
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

/** serde serializes cargo's BTreeMaps in key order. */
function sortedRecord<T>(entries: Array<[string, T]>): Record<string, T> {
  return Object.fromEntries(entries.sort(byKey))
}

/** Rust's string order (by UTF-8 bytes, which for these names is by code unit), not the locale's. */
function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0
}
