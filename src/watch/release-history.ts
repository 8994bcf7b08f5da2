import {fetchPackument, fetchRegistryJson, normaliseRegistry} from '../publish/npm-registry.js'
import {normaliseName} from '../publish/pypi-target.js'

/** One package on one registry that `secure watch` must be able to explain. */
export interface WatchedPackage {
  kind: 'npm' | 'pypi'
  name: string
  /** npm: the registry URL. PyPI: the JSON API's URL. Always ending in `/`. */
  registry: string
}

/** A published version, as the registry states it. */
export interface PublishedVersion {
  version: string
  /** ISO 8601, or null when the registry does not say. */
  published: string | null
  /** What the registry serves: npm's tarball (digest: its SRI integrity), PyPI's files (digest: hex sha256). */
  files: ReadonlyArray<{filename: string; digest: string}>
  /** npm: the account that published it, and whether that was a trusted publisher (OIDC from CI). */
  publisher?: {name: string; trusted: boolean}
  /** npm: where its attestations are, when the registry says it has provenance. */
  attestationsUrl?: string
}

/** Every version of a package, oldest first, and its dist-tags. */
export interface ReleaseHistory {
  versions: PublishedVersion[]
  distTags: Readonly<Record<string, string>>
}

/** Reads a package's versions from its registry; undefined when the registry does not know it. */
export async function readReleaseHistory(watched: WatchedPackage): Promise<ReleaseHistory | undefined> {
  return watched.kind === 'npm' ? readNpmHistory(watched) : readPypiHistory(watched)
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

/** Sorted by publication time; versions the registry gives no time come first, in the order it lists them. */
function oldestFirst(versions: PublishedVersion[]): PublishedVersion[] {
  const time = (version: PublishedVersion) => (version.published ? Date.parse(version.published) || 0 : 0)
  return versions.sort((a, b) => time(a) - time(b))
}
