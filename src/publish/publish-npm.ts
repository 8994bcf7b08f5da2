import {mkdtemp, readFile, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, type Writable} from 'node:stream'

import {type AuditContext, appendAuditRecord} from '../audit/index.js'
import {EnvironmentError, PolicyError, UsageError} from '../errors.js'
import {buildChildEnvironment} from '../exec/child-environment.js'
import {resolveSecrets} from '../exec/resolve-secrets.js'
import {runChild} from '../exec/run-child.js'
import {type Progress} from '../output.js'
import {type SecurePaths} from '../paths.js'
import {type ProfileSecret, loadProfileForDirectory, verifyProfileIsTrusted} from '../profile/load-profile.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {parseSecretTemplate} from '../profile/secret-template.js'
import {type OnePasswordSettings} from '../profile/user-config.js'
import {type SecretProvider} from '../secrets/provider.js'
import {type ReferenceDialect} from '../secrets/reference.js'
import {runSandbox} from '../sandbox/run-sandbox.js'
import {type NpmArtifact, describeRelease, readNpmArtifact, readNpmArtifactFile} from './npm-artifact.js'
import {fetchPackument, fetchTarball, normaliseRegistry, registryTokenVariable} from './npm-registry.js'
import {verifyReleaseCommit} from './release-commit.js'

/** What the user asked `secure publish` for; undefined is "not given" (the profile decides). */
export interface PublishOptions {
  repository: string
  /** Publish without asking: only after the review was read some other way. */
  yes: boolean
  /** Everything but the upload. */
  dryRun: boolean
  registry: string | undefined
  tag: string | undefined
  access: 'public' | 'restricted' | undefined
  engine: string | undefined
  network: boolean | undefined
}

/** What `secure publish` takes from the outside world. */
export interface PublishContext {
  environment: Readonly<Record<string, string | undefined>>
  paths: SecurePaths
  createProvider: (settings: OnePasswordSettings, environment: Readonly<Record<string, string | undefined>>) => Promise<SecretProvider>
  referenceDialect: (settings: OnePasswordSettings) => ReferenceDialect
  audit: Omit<AuditContext, 'logPath'>
  uid: number
  gid: number
  /** Where the build's and npm's output go: stdout stays free for the command's own result. */
  stderr: Writable
  /** A terminal to ask the human on. */
  interactive: boolean
  signals: NodeJS.EventEmitter
  notice: (line: string) => void
  progress: (title: string) => Progress
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>
}

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/'
/** Where the sandbox packs the artifact, inside its throwaway workspace. */
const PACK_DIRECTORY = 'secure-publish'

/**
 * `secure publish` for npm (issue 4): preflight, build in the sandbox with no credentials, show the
 * human what goes out, upload exactly that tarball with the token resolved just in time and given
 * only to npm, verify the registry serves the same bytes, and record it. Returns the exit code.
 */
export async function publishNpm(options: PublishOptions, context: PublishContext): Promise<number> {
  const {userConfig, profile} = await loadProfileForDirectory(options.repository, context.paths, context.environment)
  verifyProfileIsTrusted(profile, context.paths.home)
  const settings = profile.publish
  const registry = normaliseRegistry(options.registry ?? settings.registry ?? DEFAULT_REGISTRY)
  const tag = options.tag ?? settings.tag ?? 'latest'
  const access = options.access ?? settings.access ?? 'public'

  // 1. Preflight, before anything is built.
  const manifest = await readRepositoryManifest(options.repository)
  const release = await verifyReleaseCommit(options.repository, manifest.version, {signedTags: settings.signedTags ?? true, environment: context.environment})
  context.notice(`secure: releasing ${manifest.name}@${manifest.version} from ${release.tag} (${release.commit.slice(0, 12)})${release.signer ? `, signed by ${release.signer}` : ', tag signatures not required'}`)
  const secrets = publishSecrets(settings, options.dryRun)
  const dialect = context.referenceDialect(userConfig.onePassword)

  const workspace = await mkdtemp(join(tmpdir(), 'secure-publish-'))
  try {
    // 2. Build with no credentials.
    const tarball = await buildInSandbox(options, context, settings, workspace)
    const artifact = await readNpmArtifactFile(tarball)
    if (artifact.manifest.name !== manifest.name || artifact.manifest.version !== manifest.version) {
      throw new PolicyError(`the build produced ${artifact.manifest.name}@${artifact.manifest.version}, not ${manifest.name}@${manifest.version}`, {
        code: 'PUBLISH_ARTIFACT_MISMATCH',
        hint: 'the build must not change the package name or version',
      })
    }

    // 3. Show the human what goes out.
    const packument = await fetchPackument(registry, manifest.name)
    if (packument?.versions?.[manifest.version]) {
      throw new PolicyError(`${manifest.name}@${manifest.version} is already on ${registry}`, {code: 'PUBLISH_EXISTS', hint: 'bump the version and tag a new release'})
    }
    for (const line of describeRelease(artifact, await readLatestRelease(packument, registry))) context.notice(line)
    const command = ['publish', tarball, '--ignore-scripts', '--registry', registry, '--tag', tag, '--access', access]
    if (options.dryRun) {
      context.notice(`secure: dry run: nothing uploaded; would run npm ${command.join(' ')}`)
      return 0
    }
    await confirmRelease(options, context, `Publish ${manifest.name}@${manifest.version} to ${registry} with tag ${tag}?`)

    // 4. Upload exactly that artifact, the token resolved now and given to npm only.
    const values = await resolveSecrets(secrets, () => context.createProvider(userConfig.onePassword, context.environment), dialect)
    const token = values.get('token')!
    const otp = values.get('otp')
    const {environment} = buildChildEnvironment(context.environment, {
      // npm_config_userconfig: no ~/.npmrc, so no other token, registry or script setting can join in.
      secrets: new Map([[registryTokenVariable(registry), token], ['npm_config_userconfig', '/dev/null']]),
      sshAgent: false,
      marker: 'secure publish',
    })
    const outcome = await runChild({
      command: 'npm',
      args: otp ? [...command, '--otp', otp] : command,
      cwd: workspace,
      environment,
      maskValues: otp ? [token, otp] : [token],
      stdout: context.stderr,
      stderr: context.stderr,
      interactive: false,
      signals: context.signals,
    })
    const record = {package: manifest.name, version: manifest.version, registry, tag, integrity: artifact.integrity, commit: release.commit, gitTag: release.tag, signer: release.signer}
    const auditContext = {...context.audit, logPath: context.paths.auditLog}
    if (outcome.exitCode !== 0) {
      await appendAuditRecord(auditContext, {event: 'publish.failed', cwd: options.repository, details: {...record, exitCode: outcome.exitCode}})
      throw new EnvironmentError(`npm publish failed (exit ${outcome.exitCode}); its output is above`, {
        code: 'PUBLISH_UPLOAD_FAILED',
        hint: 'a rejected token or one-time password is the usual cause (E401, E403, EOTP); fix it in 1Password and run secure publish again',
      })
    }

    // 5. Verify the registry holds the same bytes; 6. record it.
    const served = (await fetchPackument(registry, manifest.name))?.versions?.[manifest.version]?.dist?.integrity
    await appendAuditRecord(auditContext, {event: 'publish.npm', cwd: options.repository, details: {...record, servedIntegrity: served ?? null, verified: served === artifact.integrity}})
    if (served !== artifact.integrity) {
      throw new PolicyError(
        served === undefined
          ? `the registry does not list ${manifest.name}@${manifest.version} after the upload`
          : `THE REGISTRY SERVES DIFFERENT BYTES for ${manifest.name}@${manifest.version}: ${served}, but secure uploaded ${artifact.integrity}`,
        {code: 'PUBLISH_INTEGRITY_MISMATCH', hint: 'treat the release as compromised until explained: check the registry, and deprecate the version if it is not yours'},
      )
    }
    context.notice(`secure: published ${manifest.name}@${manifest.version} to ${registry}; the registry serves the same bytes (${artifact.integrity})`)
    return 0
  } finally {
    await rm(workspace, {recursive: true, force: true})
  }
}

/** The token (and a one-time password) to resolve for the upload; checked before anything is built. */
function publishSecrets(settings: PublishProfileSettings, dryRun: boolean): ProfileSecret[] {
  if (!settings.npmToken) {
    if (dryRun) return []
    throw new UsageError('the profile names no registry token', {
      code: 'PUBLISH_NO_TOKEN',
      hint: 'add npm_token = "op://vault/item/field" under [publish] in .secure.toml, then secure allow',
    })
  }
  const secrets: ProfileSecret[] = [{name: 'token', template: parseSecretTemplate(settings.npmToken), origin: '[publish] npm_token'}]
  if (settings.npmOtp) secrets.push({name: 'otp', template: parseSecretTemplate(settings.npmOtp), origin: '[publish] npm_otp'})
  return secrets
}

async function readRepositoryManifest(repository: string): Promise<{name: string; version: string}> {
  const text = await readFile(join(repository, 'package.json'), 'utf8').catch(() => {
    throw new UsageError(`no package.json in ${repository}`, {code: 'PUBLISH_NO_PACKAGE', hint: 'run secure publish at the root of the package'})
  })
  const manifest = JSON.parse(text) as {name?: unknown; version?: unknown}
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw new UsageError('package.json has no name or version', {code: 'PUBLISH_NO_PACKAGE', hint: 'npm needs both to publish'})
  }
  return {name: manifest.name, version: manifest.version}
}

/** Runs the build and `npm pack` in the sandbox, and returns the tarball it packed. */
async function buildInSandbox(options: PublishOptions, context: PublishContext, settings: PublishProfileSettings, workspace: string): Promise<string> {
  const pack = `mkdir -p ${PACK_DIRECTORY} && npm pack --ignore-scripts --pack-destination ${PACK_DIRECTORY}`
  context.notice(`secure: building in the sandbox, with no credentials: ${settings.build ? `${settings.build} && ` : ''}npm pack`)
  const exitCode = await runSandbox(
    {
      repository: options.repository,
      command: ['sh', '-c', settings.build ? `${settings.build} && ${pack}` : pack],
      image: undefined,
      engine: options.engine,
      passEnvironment: [],
      forceEnvironment: false,
      network: options.network ?? settings.network,
      requireRootless: false,
      memory: undefined,
      pids: undefined,
      cpus: undefined,
      outPaths: [PACK_DIRECTORY],
      outDestination: workspace,
    },
    // The build reads no input, and its output goes to stderr: stdout stays the command's own.
    {...context, stdin: Readable.from([]), stdout: context.stderr, interactive: false},
  )
  if (exitCode !== 0) throw new EnvironmentError(`the build failed in the sandbox (exit ${exitCode}); its output is above`, {code: 'PUBLISH_BUILD_FAILED', hint: 'fix the build, commit, tag again'})
  const packed = (await readdir(join(workspace, PACK_DIRECTORY)).catch(() => [] as string[])).filter((name) => name.endsWith('.tgz'))
  if (packed.length !== 1) throw new EnvironmentError(`the build packed ${packed.length} tarballs, not one`, {code: 'PUBLISH_BUILD_FAILED', hint: 'npm pack must produce exactly one tarball'})
  return join(workspace, PACK_DIRECTORY, packed[0]!)
}

/** The artifact of the version the `latest` tag points at, to compare with. */
async function readLatestRelease(packument: Awaited<ReturnType<typeof fetchPackument>>, registry: string): Promise<NpmArtifact | undefined> {
  const latest = packument?.['dist-tags']?.latest
  const url = latest ? packument?.versions?.[latest]?.dist?.tarball : undefined
  return url ? readNpmArtifact(await fetchTarball(url, registry), url) : undefined
}

async function confirmRelease(options: PublishOptions, context: PublishContext, question: string): Promise<void> {
  if (options.yes) return
  if (!context.interactive) {
    throw new PolicyError('no terminal to confirm the release on', {code: 'PUBLISH_NOT_CONFIRMED', hint: 'run it in a terminal, or pass --yes once you have reviewed the list above'})
  }
  if (!(await context.confirm(question))) throw new PolicyError('not confirmed: nothing was published', {code: 'PUBLISH_DECLINED', hint: 'run secure publish again when it is ready'})
}
