import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'

import {EnvironmentError, UsageError} from '../errors.js'
import {type ProfileSecret} from '../profile/load-profile.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {parseSecretTemplate} from '../profile/secret-template.js'
import {describeRelease, readNpmArtifact, readNpmArtifactFile} from './npm-artifact.js'
import {fetchPackument, fetchTarball, normaliseRegistry, registryTokenVariable} from './npm-registry.js'
import {type BuiltRelease, type ReleaseTarget} from './release-target.js'

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/'

/** npm: `npm pack` in the sandbox, `npm publish <tarball>` with the token in npm's environment. */
export function npmTarget(settings: PublishProfileSettings, flags: {registry?: string; tag?: string; access?: 'public' | 'restricted'}): ReleaseTarget {
  const registry = normaliseRegistry(flags.registry ?? settings.registry ?? DEFAULT_REGISTRY)
  const tag = flags.tag ?? settings.tag ?? 'latest'
  const access = flags.access ?? settings.access ?? 'public'
  return {
    kind: 'npm',
    registry,
    recordDetails: {tag, access},
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
      const previous = url ? await readNpmArtifact(await fetchTarball(url, registry), url) : undefined
      return describeRelease(await readNpmArtifactFile(built.files[0]!.path), previous)
    },
    secrets: () => tokenSecrets({reference: settings.npmToken, setting: 'npm_token'}, settings.npmOtp ? {reference: settings.npmOtp, setting: 'npm_otp'} : undefined),
    // npm says EOTP, or asks for the code in words, when the account or package requires 2FA to publish.
    wantsOneTimePassword: (output) => /\bEOTP\b|one-time password/i.test(output),
    upload(built, values) {
      const args = ['publish', built.files[0]!.path, '--ignore-scripts', '--registry', registry, '--tag', tag, '--access', access]
      if (values.has('otp')) args.push('--otp', values.get('otp')!)
      return {
        command: 'npm',
        args,
        // npm_config_userconfig: no ~/.npmrc, so no other token, registry or script setting can join in.
        environment: new Map([[registryTokenVariable(registry), values.get('token')!], ['npm_config_userconfig', '/dev/null']]),
      }
    },
    async served(built: BuiltRelease) {
      const integrity = (await fetchPackument(registry, built.name))?.versions?.[built.version]?.dist?.integrity
      return new Map([[built.files[0]!.filename, integrity]])
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
