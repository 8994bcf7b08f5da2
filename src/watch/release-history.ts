import {fetchPackument, normaliseRegistry} from '../publish/npm-registry.js'
import {normaliseName} from '../publish/pypi-target.js'
import {fetchRegistryJson} from '../publish/registry-http.js'

/** One package on one registry that `secure watch` must be able to explain. */
export interface WatchedPackage {
  kind: 'npm' | 'pypi' | 'cargo'
  name: string
  /** npm: the registry URL; PyPI: the JSON API's URL (both ending in `/`); cargo: the web API's base (not). */
  registry: string
}

/** A published version, as the registry states it. */
export interface PublishedVersion {
  version: string
  /** ISO 8601, or null when the registry does not say. */
  published: string | null
  /** What the registry serves: npm's tarball (digest: its SRI integrity), PyPI's files and cargo's crate (digest: hex sha256). */
  files: ReadonlyArray<{filename: string; digest: string}>
  /** npm, cargo: the account that published it, and whether that was a trusted publisher (OIDC from CI). */
  publisher?: {name: string; trusted: boolean}
  /** npm: where its attestations are, when the registry says it has provenance. */
  attestationsUrl?: string
  /** cargo: the CI run crates.io says published it by trusted publishing (`trustpub_data`); not signed, crates.io's word. */
  trustedPublishing?: {repository: string; runId: string}
}

/** Every version of a package, oldest first, and its dist-tags. */
export interface ReleaseHistory {
  versions: PublishedVersion[]
  distTags: Readonly<Record<string, string>>
}

/** Reads a package's versions from its registry; undefined when the registry does not know it. */
export async function readReleaseHistory(watched: WatchedPackage): Promise<ReleaseHistory | undefined> {
  if (watched.kind === 'npm') return readNpmHistory(watched)
  return watched.kind === 'pypi' ? readPypiHistory(watched) : readCrateHistory(watched)
}

async function readNpmHistory({name, registry}: WatchedPackage): Promise<ReleaseHistory | undefined> {
  const packument = await fetchPackument(registry, name)
  if (!packument) return undefined
  const times = packument.time ?? {}
  const versions = Object.entries(packument.versions ?? {}).map(([version, data]): PublishedVersion => {
    const tarball = data.dist?.tarball
    return {
      version,
      published: times[version] ?? null,
      files: [{filename: tarball ? tarball.slice(tarball.lastIndexOf('/') + 1) : `${version}.tgz`, digest: data.dist?.integrity ?? ''}],
      ...(data._npmUser?.name ? {publisher: {name: data._npmUser.name, trusted: data._npmUser.trustedPublisher !== undefined}} : {}),
      // Always asked of the registry being watched, never of a URL a packument names.
      ...(data.dist?.attestations ? {attestationsUrl: `${normaliseRegistry(registry)}-/npm/v1/attestations/${name.replace('/', '%2f')}@${version}`} : {}),
    }
  })
  return {versions: oldestFirst(versions), distTags: packument['dist-tags'] ?? {}}
}

/** PyPI's JSON API (`GET /pypi/<project>/json`), as far as `secure watch` reads it. */
interface PypiProject {
  releases?: Record<string, Array<{filename?: string; digests?: {sha256?: string}; upload_time_iso_8601?: string}>>
}

async function readPypiHistory({name, registry}: WatchedPackage): Promise<ReleaseHistory | undefined> {
  const project = await fetchRegistryJson<PypiProject>(`${registry}${normaliseName(name)}/json`, registry)
  if (!project) return undefined
  const versions = Object.entries(project.releases ?? {}).map(([version, files]): PublishedVersion => ({
    version,
    // A release is as old as its first file; files added later are judged one by one.
    published: files.map((file) => file.upload_time_iso_8601 ?? '').filter(Boolean).sort()[0] ?? null,
    files: files.map((file) => ({filename: file.filename ?? '', digest: file.digests?.sha256 ?? ''})),
  }))
  // PyPI has no dist-tags: pip takes the newest version.
  return {versions: oldestFirst(versions), distTags: {}}
}

/** crates.io's web API (`GET /api/v1/crates/<name>`), as far as `secure watch` reads it. */
interface CratesIoCrate {
  versions?: Array<{
    num?: string
    checksum?: string
    created_at?: string
    published_by?: {login?: string} | null
    trustpub_data?: {provider?: string; repository?: string; run_id?: string | number} | null
  }>
}

async function readCrateHistory({name, registry}: WatchedPackage): Promise<ReleaseHistory | undefined> {
  const crate = await fetchRegistryJson<CratesIoCrate>(`${registry}/api/v1/crates/${encodeURIComponent(name)}`, registry)
  if (!crate) return undefined
  const versions = (crate.versions ?? []).map((data): PublishedVersion => {
    const trusted = data.trustpub_data
    return {
      version: data.num ?? '',
      published: data.created_at ?? null,
      files: [{filename: `${name}-${data.num}.crate`, digest: data.checksum ?? ''}],
      ...(trusted ? {publisher: {name: `trusted publishing (${trusted.provider})`, trusted: true}} : data.published_by?.login ? {publisher: {name: data.published_by.login, trusted: false}} : {}),
      // crates.io names GitHub repositories `owner/name`.
      ...(trusted?.provider === 'github' && trusted.repository ? {trustedPublishing: {repository: `https://github.com/${trusted.repository}`, runId: String(trusted.run_id)}} : {}),
    }
  })
  // crates.io has no dist-tags: cargo takes the newest version a requirement allows.
  return {versions: oldestFirst(versions), distTags: {}}
}

/** Sorted by publication time; versions the registry gives no time come first, in the order it lists them. */
function oldestFirst(versions: PublishedVersion[]): PublishedVersion[] {
  const time = (version: PublishedVersion) => (version.published ? Date.parse(version.published) || 0 : 0)
  return versions.sort((a, b) => time(a) - time(b))
}
