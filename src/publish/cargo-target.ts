import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {parse as parseToml} from 'smol-toml'

import {EnvironmentError, PolicyError, UsageError} from '../errors.js'
import {maskString} from '../exec/masking.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {type CrateArtifact, describeCrate, framePublishRequest, readCrate} from './crate-artifact.js'
import {tokenSecrets} from './npm-target.js'
import {USER_AGENT, failureCode, fetchRegistryBytes, fetchRegistryJson} from './registry-http.js'
import {type ReleaseTarget} from './release-target.js'

const DEFAULT_API = 'https://crates.io'

/** The web API's answer for one version (`GET /api/v1/crates/<name>/<version>`), as far as needed. */
interface CrateVersion {
  version?: {num?: string; checksum?: string; dl_path?: string}
}

/**
 * crates.io (or any registry with cargo's web API): `cargo package` in the sandbox, then the very
 * `.crate` it made is uploaded by secure itself through `PUT /api/v1/crates/new`, since `cargo
 * publish` always packages again from source. The token is resolved just in time and only ever
 * sits in this process's memory, in that one request's Authorization header; the crate's sha256 is
 * then checked against the version's `checksum` (publishing.md §5).
 */
export function cargoTarget(settings: PublishProfileSettings, flags: {registry?: string}): ReleaseTarget {
  const api = normaliseCratesApi(flags.registry ?? settings.registry ?? DEFAULT_API)
  const toCratesIo = new URL(api).host === 'crates.io'
  const readVersion = (name: string, version: string) => fetchRegistryJson<CrateVersion>(`${api}/api/v1/crates/${encodeURIComponent(name)}/${encodeURIComponent(version)}`, api)
  const readBuilt = async (path: string, filename: string) => readCrate(await readFile(path), filename, {toCratesIo})
  return {
    kind: 'cargo',
    registry: api,
    recordDetails: {},
    image: 'rust',
    async readSource(repository) {
      const text = await readFile(join(repository, 'Cargo.toml'), 'utf8').catch(() => {
        throw new UsageError(`no Cargo.toml in ${repository}`, {code: 'PUBLISH_NO_PACKAGE', hint: 'run secure publish at the root of the crate'})
      })
      const pkg = (parseToml(text) as {package?: {name?: unknown; version?: unknown}}).package
      if (typeof pkg?.name !== 'string' || typeof pkg.version !== 'string') {
        throw new UsageError('Cargo.toml has no [package] name and version', {
          code: 'PUBLISH_NO_PACKAGE',
          hint: 'secure publish checks the release tag against the version before building, so it must be written in [package] (not inherited from a workspace)',
        })
      }
      return {name: pkg.name, version: pkg.version}
    },
    // secure makes the upload request itself: there is no program to check.
    async checkUploader() {},
    // The target folder sits beside the copy, outside the package, so no untracked file in it makes cargo
    // call the tree dirty; CARGO_TARGET_DIR wins over the repository's cargo config.
    buildScript: (directory) => `CARGO_TARGET_DIR=../secure-publish-target cargo package && mkdir -p ${directory} && cp ../secure-publish-target/package/*.crate ${directory}/`,
    async inspect(directory) {
      const packed = (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.crate'))
      if (packed.length !== 1) {
        throw new EnvironmentError(`the build packed ${packed.length} crates, not one`, {code: 'PUBLISH_BUILD_FAILED', hint: 'cargo package must produce exactly one crate: run secure publish in a package, not a workspace root'})
      }
      const path = join(directory, packed[0]!)
      const crate = await readBuilt(path, packed[0]!)
      refuseUnpublishable(crate, toCratesIo)
      return {name: crate.name, version: crate.version, files: [{path, filename: packed[0]!, digest: crate.checksum}]}
    },
    isPublished: async (name, version) => (await readVersion(name, version))?.version !== undefined,
    async describe(built) {
      const crate = await readBuilt(built.files[0]!.path, built.files[0]!.filename)
      const latest = (await fetchRegistryJson<{crate?: {max_version?: string}}>(`${api}/api/v1/crates/${encodeURIComponent(built.name)}`, api))?.crate?.max_version
      const download = latest ? (await readVersion(built.name, latest))?.version?.dl_path : undefined
      const previous = download ? await readCrate(await fetchRegistryBytes(new URL(download, `${api}/`).href, api), `${built.name} ${latest}`, {toCratesIo}) : undefined
      return describeCrate(crate, previous)
    },
    secrets: () => tokenSecrets({reference: settings.cargoToken, setting: 'cargo_token'}),
    describeUpload: (built) => `send ${built.files[0]!.filename} with its metadata to PUT ${api}/api/v1/crates/new`,
    async upload(built, values) {
      const bytes = await readFile(built.files[0]!.path)
      const crate = await readCrate(bytes, built.files[0]!.filename, {toCratesIo})
      // Whatever the registry or the network says back is shown; the token must never be in it.
      const masked = (text: string) => maskString(text, [...values.values()])
      let response: Response
      try {
        response = await fetch(`${api}/api/v1/crates/new`, {
          method: 'PUT',
          headers: {accept: 'application/json', authorization: values.get('token')!, 'user-agent': USER_AGENT},
          body: new Uint8Array(framePublishRequest(crate.metadata, bytes)),
          // A redirect would carry the token to wherever it points.
          redirect: 'error',
          signal: AbortSignal.timeout(300_000),
        })
      } catch (error) {
        return {failure: masked(`cannot reach ${api} to upload (${failureCode(error)})`), wantsOneTimePassword: false}
      }
      const answer = parseAnswer(await response.text().catch(() => ''))
      const errors = answer.errors?.map((error) => String(error.detail)) ?? []
      // As cargo: only a 200 without errors is a publish.
      if (response.status !== 200 || errors.length > 0) {
        return {failure: masked(`${api} refused the upload (HTTP ${response.status}${errors.length > 0 ? `: ${errors.join('; ')}` : ''})`), wantsOneTimePassword: false}
      }
      const warnings = answer.warnings ?? {}
      const notes = [
        ...(warnings.invalid_categories?.length ? [`ignored categories that are not valid slugs: ${warnings.invalid_categories.join(', ')}`] : []),
        ...(warnings.invalid_badges?.length ? [`ignored badges: ${warnings.invalid_badges.join(', ')}`] : []),
        ...(warnings.other ?? []),
      ]
      return {failure: undefined, wantsOneTimePassword: false, notes: notes.map(masked)}
    },
    async served(release) {
      return new Map([[release.files[0]!.filename, (await readVersion(release.name, release.version))?.version?.checksum]])
    },
  }
}

/** `publish = false`, or a `publish` list without crates-io when the upload goes there: cargo would refuse too. */
function refuseUnpublishable(crate: CrateArtifact, toCratesIo: boolean): void {
  if (crate.publish === false || (toCratesIo && Array.isArray(crate.publish) && !crate.publish.includes('crates-io'))) {
    throw new PolicyError(`Cargo.toml of ${crate.name} says it is not to be published${Array.isArray(crate.publish) ? ` to crates.io (publish = [${crate.publish.join(', ')}])` : ' (publish = false)'}`, {
      code: 'PUBLISH_FORBIDDEN_BY_MANIFEST',
      hint: 'change package.publish in Cargo.toml if this crate should go to this registry',
    })
  }
}

/** The web API's JSON answer: `{warnings}` on success, `{errors: [{detail}]}` on failure; anything else as empty. */
function parseAnswer(text: string): {errors?: Array<{detail?: unknown}>; warnings?: {invalid_categories?: string[]; invalid_badges?: string[]; other?: string[]}} {
  try {
    const parsed = JSON.parse(text) as unknown
    return typeof parsed === 'object' && parsed !== null ? (parsed as ReturnType<typeof parseAnswer>) : {}
  } catch {
    return {}
  }
}

/** A cargo web API's base as secure records and compares it: no trailing slash (`https://crates.io`). */
export function normaliseCratesApi(api: string): string {
  return api.replace(/\/+$/, '')
}
