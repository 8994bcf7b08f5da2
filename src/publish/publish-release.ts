import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, Writable} from 'node:stream'

import {type AuditContext, appendAuditRecord} from '../audit/index.js'
import {EnvironmentError, PolicyError, UsageError} from '../errors.js'
import {buildChildEnvironment} from '../exec/child-environment.js'
import {resolveSecrets} from '../exec/resolve-secrets.js'
import {runChild} from '../exec/run-child.js'
import {type Progress} from '../output.js'
import {type SecurePaths} from '../paths.js'
import {loadProfileForDirectory, verifyProfileIsTrusted} from '../profile/load-profile.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {type OnePasswordSettings} from '../profile/user-config.js'
import {type SecretProvider} from '../secrets/provider.js'
import {type ReferenceDialect} from '../secrets/reference.js'
import {runSandbox} from '../sandbox/run-sandbox.js'
import {npmTarget} from './npm-target.js'
import {pypiTarget} from './pypi-target.js'
import {verifyReleaseCommit} from './release-commit.js'
import {type BuiltRelease, type ReleaseTarget} from './release-target.js'

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
  /** Asks for a secret on the terminal (not echoed): a one-time password the registry wants. */
  askSecret: (question: string) => Promise<string>
}

/** Where the sandbox packs the release, inside its throwaway workspace. */
const PACK_DIRECTORY = 'secure-publish'

/**
 * `secure publish` (issue 4): preflight, build in the sandbox with no credentials, show the human
 * what goes out, upload exactly those files with the token resolved just in time and given only to
 * the upload's process, verify the registry serves the same bytes, and record it. The registry's
 * side is a {@link ReleaseTarget}: npm or PyPI, chosen from the repository's files.
 */
export async function publishRelease(options: PublishOptions, context: PublishContext): Promise<number> {
  const {userConfig, profile} = await loadProfileForDirectory(options.repository, context.paths, context.environment)
  verifyProfileIsTrusted(profile, context.paths.home)
  const settings = profile.publish
  const target = await chooseTarget(options, settings)

  // 1. Preflight, before anything is built.
  const source = await target.readSource(options.repository)
  const release = await verifyReleaseCommit(options.repository, source.version, {signedTags: settings.signedTags ?? true, environment: context.environment})
  context.notice(`secure: releasing ${source.name} ${source.version} from ${release.tag} (${release.commit.slice(0, 12)})${release.signer ? `, signed by ${release.signer}` : ', tag signatures not required'}`)
  // A dry run uploads nothing, so it needs no token; a real run checks for one before building.
  const secrets = options.dryRun ? [] : target.secrets()
  const dialect = context.referenceDialect(userConfig.onePassword)

  const workspace = await mkdtemp(join(tmpdir(), 'secure-publish-'))
  try {
    // 2. Build with no credentials.
    await buildInSandbox(options, context, settings, target, workspace)
    const built = await target.inspect(join(workspace, PACK_DIRECTORY))
    if (built.name !== source.name || built.version !== source.version) {
      throw new PolicyError(`the build produced ${built.name} ${built.version}, not ${source.name} ${source.version}`, {
        code: 'PUBLISH_ARTIFACT_MISMATCH',
        hint: 'the build must not change the package name or version',
      })
    }

    // 3. Show the human what goes out.
    if (await target.isPublished(built.name, built.version)) {
      throw new PolicyError(`${built.name} ${built.version} is already on ${target.registry}`, {code: 'PUBLISH_EXISTS', hint: 'bump the version and tag a new release'})
    }
    for (const line of await target.describe(built)) context.notice(line)
    if (options.dryRun) {
      const upload = target.upload(built, new Map([['token', '…']]))
      context.notice(`secure: dry run: nothing uploaded; would run ${upload.command} ${upload.args.join(' ')}`)
      return 0
    }
    await confirmRelease(options, context, `Publish ${built.name} ${built.version} to ${target.registry}?`)

    // 4. Upload exactly those files, the token resolved now and given to the upload only.
    const values = await resolveSecrets(secrets, () => context.createProvider(userConfig.onePassword, context.environment), dialect)
    let outcome = await uploadOnce(target, built, values, context, workspace)
    // A registry that wants a one-time password the profile does not name: ask the human, once.
    if (outcome.exitCode !== 0 && !values.has('otp') && context.interactive && target.wantsOneTimePassword(outcome.output)) {
      values.set('otp', (await context.askSecret('The registry asks for a one-time password:')).trim())
      outcome = await uploadOnce(target, built, values, context, workspace)
    }
    const record = {
      kind: target.kind,
      package: built.name,
      version: built.version,
      registry: target.registry,
      ...target.recordDetails,
      files: built.files.map((file) => ({filename: file.filename, digest: file.digest})),
      commit: release.commit,
      gitTag: release.tag,
      signer: release.signer,
    }
    const auditContext = {...context.audit, logPath: context.paths.auditLog}
    if (outcome.exitCode !== 0) {
      await appendAuditRecord(auditContext, {event: 'publish.failed', cwd: options.repository, details: {...record, exitCode: outcome.exitCode}})
      throw new EnvironmentError(`${outcome.command} failed to upload (exit ${outcome.exitCode}); its output is above`, {
        code: 'PUBLISH_UPLOAD_FAILED',
        hint: 'a rejected token or one-time password is the usual cause (401, 403, EOTP); fix it in 1Password and run secure publish again',
      })
    }

    // 5. Verify the registry holds the same bytes; 6. record it.
    const served = await target.served(built)
    const mismatched = built.files.filter((file) => served.get(file.filename) !== file.digest)
    await appendAuditRecord(auditContext, {
      event: 'publish',
      cwd: options.repository,
      details: {...record, served: Object.fromEntries([...served].map(([filename, digest]) => [filename, digest ?? null])), verified: mismatched.length === 0},
    })
    if (mismatched.length > 0) {
      const [file] = mismatched
      const servedDigest = served.get(file!.filename)
      throw new PolicyError(
        servedDigest === undefined
          ? `the registry does not list ${file!.filename} of ${built.name} ${built.version} after the upload`
          : `THE REGISTRY SERVES DIFFERENT BYTES for ${file!.filename}: ${servedDigest}, but secure uploaded ${file!.digest}`,
        {code: 'PUBLISH_INTEGRITY_MISMATCH', hint: 'treat the release as compromised until explained: check the registry, and yank or deprecate the version if it is not yours'},
      )
    }
    context.notice(`secure: published ${built.name} ${built.version} to ${target.registry}; the registry serves the same bytes (${built.files.map((file) => file.digest).join(', ')})`)
    return 0
  } finally {
    await rm(workspace, {recursive: true, force: true})
  }
}

/**
 * Runs the upload once, its output shown as it comes (masked) and its end kept, to tell why it failed.
 */
async function uploadOnce(target: ReleaseTarget, built: BuiltRelease, values: ReadonlyMap<string, string>, context: PublishContext, cwd: string) {
  const upload = target.upload(built, values)
  const {environment} = buildChildEnvironment(context.environment, {secrets: upload.environment, sshAgent: false, marker: 'secure publish'})
  let output = ''
  const shown = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output = (output + chunk.toString('utf8')).slice(-16_384)
      context.stderr.write(chunk, done)
    },
  })
  const {exitCode} = await runChild({
    command: upload.command,
    args: upload.args,
    cwd,
    environment,
    maskValues: [...values.values()],
    stdout: shown,
    stderr: shown,
    interactive: false,
    signals: context.signals,
    // No terminal for the upload: npm would otherwise ask for a one-time password (or open a web
    // login) itself; secure asks instead, masked, and passes the code with --otp.
    stdin: 'ignore',
  })
  return {command: upload.command, exitCode, output}
}

/** npm for a package.json, PyPI for a Python project; [publish] kind decides when both are there. */
async function chooseTarget(options: PublishOptions, settings: PublishProfileSettings): Promise<ReleaseTarget> {
  const names = new Set(await readdir(options.repository).catch(() => [] as string[]))
  const python = names.has('pyproject.toml')
  const kind = settings.kind ?? (names.has('package.json') && !python ? 'npm' : python && !names.has('package.json') ? 'pypi' : undefined)
  if (kind === 'npm') return npmTarget(settings, options)
  if (kind === 'pypi') return pypiTarget(settings, options)
  throw new UsageError(names.has('package.json') ? 'this repository has both package.json and pyproject.toml' : 'found no package.json or pyproject.toml here', {
    code: 'PUBLISH_NO_PACKAGE',
    hint: names.has('package.json') ? 'say which to publish: kind = "npm" or "pypi" under [publish]' : 'run secure publish at the root of the package',
  })
}

/** Runs the build and pack in the sandbox; the packed files come out into `workspace`. */
async function buildInSandbox(options: PublishOptions, context: PublishContext, settings: PublishProfileSettings, target: ReleaseTarget, workspace: string): Promise<void> {
  const pack = target.buildScript(PACK_DIRECTORY)
  context.notice(`secure: building in the sandbox, with no credentials: ${settings.build ? `${settings.build} && ` : ''}${pack}`)
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
}

async function confirmRelease(options: PublishOptions, context: PublishContext, question: string): Promise<void> {
  if (options.yes) return
  if (!context.interactive) {
    throw new PolicyError('no terminal to confirm the release on', {code: 'PUBLISH_NOT_CONFIRMED', hint: 'run it in a terminal, or pass --yes once you have reviewed the list above'})
  }
  if (!(await context.confirm(question))) throw new PolicyError('not confirmed: nothing was published', {code: 'PUBLISH_DECLINED', hint: 'run secure publish again when it is ready'})
}
