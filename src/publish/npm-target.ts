import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import semver from 'semver'

import {EnvironmentError, UsageError} from '../errors.js'
import {type ProfileSecret} from '../profile/load-profile.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {parseSecretTemplate} from '../profile/secret-template.js'
import {describeRelease, readNpmArtifact, readNpmArtifactFile} from './npm-artifact.js'
import {fetchPackument, normaliseRegistry, registryTokenVariable} from './npm-registry.js'
import {fetchRegistryBytes} from './registry-http.js'
import {type BuiltRelease, type ReleaseTarget} from './release-target.js'
import {missingUploader, readProgramVersion} from './uploader-program.js'

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/'
/** The first npm with `npm stage` (publishing.md §2). */
const FIRST_STAGING_NPM = '11.15.0'
/** What `npm stage publish` prints on success: `+ name@1.2.3 (staged with id <uuid>)` (lib/commands/publish.js). */
const STAGE_ID = /\(staged with id ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)/i

/**
 * npm: `npm pack` in the sandbox, `npm publish <tarball>` with the token in npm's environment; or,
 * with `stage`, `npm stage publish <tarball>`, which needs no one-time password and makes nothing
 * public: a human approves the staged version with 2FA.
 */
export function npmTarget(settings: PublishProfileSettings, flags: {registry?: string; tag?: string; access?: 'public' | 'restricted'; stage: boolean}): ReleaseTarget {
  const registry = normaliseRegistry(flags.registry ?? settings.registry ?? DEFAULT_REGISTRY)
  const tag = flags.tag ?? settings.tag ?? 'latest'
  const access = flags.access ?? settings.access ?? 'public'
  const uploadArgs = (built: BuiltRelease) => [...(flags.stage ? ['stage', 'publish'] : ['publish']), built.files[0]!.path, '--ignore-scripts', '--registry', registry, '--tag', tag, '--access', access]
  return {
    kind: 'npm',
    registry,
    recordDetails: {tag, access},
    // The Node major the repository's engines.node, .nvmrc or .node-version call for.
    image: undefined,
    async readSource(repository) {
      const text = await readFile(join(repository, 'package.json'), 'utf8').catch(() => {
        throw new UsageError(`no package.json in ${repository}`, {code: 'PUBLISH_NO_PACKAGE', hint: 'run secure publish at the root of the package'})
      })
      const manifest = JSON.parse(text) as {name?: unknown; version?: unknown}
      if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
        throw new UsageError('package.json has no name or version', {code: 'PUBLISH_NO_PACKAGE', hint: 'npm needs both to publish'})
      }
      return {name: manifest.name, version: manifest.version}
    },
    async checkUploader(environment) {
      const version = await readProgramVersion('npm', environment)
      if (version === undefined) throw missingUploader('npm', 'install Node.js with npm')
      if (flags.stage && !semver.gte(semver.coerce(version) ?? '0.0.0', FIRST_STAGING_NPM)) {
        throw new EnvironmentError(`npm ${version} cannot stage a release: npm stage came with npm ${FIRST_STAGING_NPM}`, {
          code: 'PUBLISH_UPLOADER_TOO_OLD',
          hint: 'install a newer npm (npm install -g npm@11), or publish without staging',
        })
      }
    },
    buildScript: (directory) => `mkdir -p ${directory} && npm pack --ignore-scripts --pack-destination ${directory}`,
    async inspect(directory) {
      const packed = (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.tgz'))
      if (packed.length !== 1) throw new EnvironmentError(`the build packed ${packed.length} tarballs, not one`, {code: 'PUBLISH_BUILD_FAILED', hint: 'npm pack must produce exactly one tarball'})
      const path = join(directory, packed[0]!)
      const artifact = await readNpmArtifactFile(path)
      return {name: artifact.manifest.name, version: artifact.manifest.version, files: [{path, filename: packed[0]!, digest: artifact.integrity}]}
    },
    isPublished: async (name, version) => (await fetchPackument(registry, name))?.versions?.[version] !== undefined,
    async describe(built) {
      const packument = await fetchPackument(registry, built.name)
      const latest = packument?.['dist-tags']?.latest
      const url = latest ? packument?.versions?.[latest]?.dist?.tarball : undefined
      const previous = url ? await readNpmArtifact(await fetchRegistryBytes(url, registry), url) : undefined
      return describeRelease(await readNpmArtifactFile(built.files[0]!.path), previous)
    },
    // Staging needs no one-time password: the approval is where 2FA is asked.
    secrets: () => tokenSecrets({reference: settings.npmToken, setting: 'npm_token'}, settings.npmOtp && !flags.stage ? {reference: settings.npmOtp, setting: 'npm_otp'} : undefined),
    describeUpload: (built) => `run npm ${uploadArgs(built).join(' ')}`,
    async upload(built, values, run) {
      const args = uploadArgs(built)
      if (values.has('otp')) args.push('--otp', values.get('otp')!)
      const {exitCode, output} = await run('npm', args, new Map([
        [registryTokenVariable(registry), values.get('token')!],
        // No ~/.npmrc, so no other token, registry or script setting can join in.
        ['npm_config_userconfig', '/dev/null'],
        // And no request for npm's own latest version along the way.
        ['npm_config_update_notifier', 'false'],
      ]))
      const id = STAGE_ID.exec(output)?.[1]
      return {
        failure: exitCode === 0 ? undefined : `npm failed to ${flags.stage ? 'stage' : 'upload'} (exit ${exitCode}); its output is above`,
        // npm says EOTP, or asks for the code in words, when the account or package requires 2FA to publish.
        wantsOneTimePassword: /\bEOTP\b|one-time password/i.test(output),
        staged: flags.stage ? {id, approve: `npm stage approve ${id ?? '<stage id>'} --registry ${registry}`} : undefined,
      }
    },
    async served(release) {
      const integrity = (await fetchPackument(registry, release.name))?.versions?.[release.version]?.dist?.integrity
      return new Map([[release.files[0]!.filename, integrity]])
    },
  }
}

/** The upload's token (and one-time password) as profile secrets, or an error naming the setting. */
export function tokenSecrets(token: {reference: string | undefined; setting: string}, otp?: {reference: string; setting: string}): ProfileSecret[] {
  if (!token.reference) {
    throw new UsageError('the profile names no registry token', {
      code: 'PUBLISH_NO_TOKEN',
      hint: `add ${token.setting} = "op://vault/item/field" under [publish] in .secure.toml, then secure allow`,
    })
  }
  const secrets: ProfileSecret[] = [{name: 'token', template: parseSecretTemplate(token.reference), origin: `[publish] ${token.setting}`}]
  if (otp) secrets.push({name: 'otp', template: parseSecretTemplate(otp.reference), origin: `[publish] ${otp.setting}`})
  return secrets
}
