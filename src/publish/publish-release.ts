import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, Writable} from 'node:stream'

import {type AuditContext, appendAuditRecord, readAuditLog} from '../audit/index.js'
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
import {cargoTarget} from './cargo-target.js'
import {pypiTarget} from './pypi-target.js'
import {verifyReleaseCommit} from './release-commit.js'
import {type ReleaseFiles, type ReleaseTarget, type RunUploader} from './release-target.js'

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
  /** npm: stage the version (`npm stage publish`) for a human to approve with 2FA, instead of publishing it. */
  stage: boolean | undefined
  /** Instead of releasing: check a staged version that was approved since, and record it as published. */
  verifyStaged: boolean
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

/** The manifest that makes a repository a package of each kind. */
const MANIFESTS = {npm: 'package.json', pypi: 'pyproject.toml', cargo: 'Cargo.toml'} as const

/**
 * `secure publish` (issue 4): preflight, build in the sandbox with no credentials, show the human
 * what goes out, upload exactly those files with the token resolved just in time and given only to
 * the upload, verify the registry serves the same bytes, and record it. The registry's side is a
 * {@link ReleaseTarget}: npm, PyPI or crates.io, chosen from the repository's files.
 */
export async function publishRelease(options: PublishOptions, context: PublishContext): Promise<number> {
  const {userConfig, profile} = await loadProfileForDirectory(options.repository, context.paths, context.environment)
  verifyProfileIsTrusted(profile, context.paths.home)
  const settings = profile.publish
  const target = await chooseTarget(options, settings)
  if (options.verifyStaged) return verifyStagedRelease(options, context, target)

  // 1. Preflight, before anything is built.
  const source = await target.readSource(options.repository)
  const release = await verifyReleaseCommit(options.repository, source.version, {signedTags: settings.signedTags ?? true, environment: context.environment})
  context.notice(`secure: releasing ${source.name} ${source.version} from ${release.tag} (${release.commit.slice(0, 12)})${release.signer ? `, signed by ${release.signer}` : ', tag signatures not required'}`)
  // A dry run uploads nothing, so it needs no token; a real run checks for one, and for its uploader, before building.
  const secrets = options.dryRun ? [] : target.secrets()
  if (!options.dryRun) await target.checkUploader(context.environment)
  const dialect = context.referenceDialect(userConfig.onePassword)

  const workspace = await mkdtemp(join(tmpdir(), 'secure-publish-'))
  try {
    // 2. Build with no credentials.
    await buildInSandbox(options, context, settings, profile.sandbox.image ?? target.image, target, workspace)
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
      context.notice(`secure: dry run: nothing uploaded; would ${target.describeUpload(built)}`)
      return 0
    }
    await confirmRelease(options, context, `Publish ${built.name} ${built.version} to ${target.registry}?`)

    // 4. Upload exactly those files, the token resolved now and given to the upload only.
    const values = await resolveSecrets(secrets, () => context.createProvider(userConfig.onePassword, context.environment), dialect)
    const run = uploaderRunner(context, workspace, values)
    let outcome = await target.upload(built, values, run)
    // A registry that wants a one-time password the profile does not name: ask the human, once.
    if (outcome.failure && !values.has('otp') && context.interactive && outcome.wantsOneTimePassword) {
      values.set('otp', (await context.askSecret('The registry asks for a one-time password:')).trim())
      outcome = await target.upload(built, values, run)
    }
    const record: ReleaseRecord = {
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
    for (const note of outcome.notes ?? []) context.notice(`secure: ${target.registry} says: ${note}`)
    const auditContext = {...context.audit, logPath: context.paths.auditLog}
    if (outcome.failure) {
      await appendAuditRecord(auditContext, {event: 'publish.failed', cwd: options.repository, details: {...record, error: outcome.failure}})
      throw new EnvironmentError(outcome.failure, {
        code: 'PUBLISH_UPLOAD_FAILED',
        hint: 'a rejected token or one-time password is the usual cause (401, 403, EOTP); fix it in 1Password and run secure publish again',
      })
    }
    if (outcome.staged) {
      // Not public yet, so there is nothing to verify: the record says what was staged, for --verify-staged.
      await appendAuditRecord(auditContext, {event: 'publish.staged', cwd: options.repository, details: {...record, stageId: outcome.staged.id ?? null, approve: outcome.staged.approve}})
      context.notice(`secure: staged ${built.name} ${built.version} on ${target.registry}${outcome.staged.id ? ` (stage id ${outcome.staged.id})` : ''}; it is not public until you approve it with 2FA: ${outcome.staged.approve}`)
      context.notice('secure: once it is approved, secure publish --verify-staged checks that the registry serves the same bytes and records the release')
      return 0
    }

    // 5. Verify the registry holds the same bytes; 6. record it.
    await verifyAndRecord(target, built, record, {...context, auditContext, cwd: options.repository})
    return 0
  } finally {
    await rm(workspace, {recursive: true, force: true})
  }
}

/** The details of a `publish`, `publish.staged` and `publish.failed` audit record (secure watch reads them). */
export interface ReleaseRecord extends Record<string, unknown> {
  kind: string
  package: string
  version: string
  registry: string
  files: Array<{filename: string; digest: string}>
}

/**
 * `secure publish --verify-staged`: the version the checkout states was staged (the audit log says
 * so) and approved since; checks that the registry now serves exactly the staged bytes, and records
 * the release as published.
 */
async function verifyStagedRelease(options: PublishOptions, context: PublishContext, target: ReleaseTarget): Promise<number> {
  const source = await target.readSource(options.repository)
  const staged = (await readAuditLog(context.paths.auditLog))
    .filter((entry) => entry.event === 'publish.staged')
    .map((entry) => entry.details as ReleaseRecord & {approve?: string})
    .filter((details) => details.kind === target.kind && details.package === source.name && details.version === source.version && details.registry === target.registry)
    .at(-1)
  if (!staged) {
    throw new UsageError(`the audit log has no staged release of ${source.name} ${source.version} to ${target.registry}`, {
      code: 'PUBLISH_NOT_STAGED',
      hint: 'stage it first with secure publish --stage, from the checkout and with the registry it was staged to',
    })
  }
  const served = await target.served({name: staged.package, version: staged.version, files: staged.files})
  if ([...served.values()].every((digest) => digest === undefined)) {
    throw new EnvironmentError(`${source.name} ${source.version} is not public on ${target.registry} yet`, {
      code: 'PUBLISH_NOT_APPROVED',
      hint: `approve the staged version with 2FA first${staged.approve ? `: ${staged.approve}` : ''}; then run secure publish --verify-staged again`,
    })
  }
  const auditContext = {...context.audit, logPath: context.paths.auditLog}
  await verifyAndRecord(target, {name: staged.package, version: staged.version, files: staged.files}, staged, {...context, auditContext, cwd: options.repository}, served)
  return 0
}

/**
 * Steps 5 and 6: compares what the registry serves with what was uploaded, writes the `publish`
 * record either way, and fails loudly on a difference.
 */
async function verifyAndRecord(
  target: ReleaseTarget,
  release: ReleaseFiles,
  record: ReleaseRecord,
  context: Pick<PublishContext, 'notice'> & {auditContext: AuditContext; cwd: string},
  alreadyServed?: Map<string, string | undefined>,
): Promise<void> {
  const served = alreadyServed ?? (await target.served(release))
  const mismatched = release.files.filter((file) => served.get(file.filename) !== file.digest)
  await appendAuditRecord(context.auditContext, {
    event: 'publish',
    cwd: context.cwd,
    details: {...record, served: Object.fromEntries([...served].map(([filename, digest]) => [filename, digest ?? null])), verified: mismatched.length === 0},
  })
  if (mismatched.length > 0) {
    const [file] = mismatched
    const servedDigest = served.get(file!.filename)
    throw new PolicyError(
      servedDigest === undefined
        ? `the registry does not list ${file!.filename} of ${release.name} ${release.version} after the upload`
        : `THE REGISTRY SERVES DIFFERENT BYTES for ${file!.filename}: ${servedDigest}, but secure uploaded ${file!.digest}`,
      {code: 'PUBLISH_INTEGRITY_MISMATCH', hint: 'treat the release as compromised until explained: check the registry, and yank or deprecate the version if it is not yours'},
    )
  }
  context.notice(`secure: published ${release.name} ${release.version} to ${target.registry}; the registry serves the same bytes (${release.files.map((file) => file.digest).join(', ')})`)
}

/**
 * Runs an upload program in an empty folder with no terminal, its output shown as it comes
 * (masked) and its end kept, to tell why it failed.
 */
function uploaderRunner(context: PublishContext, cwd: string, values: ReadonlyMap<string, string>): RunUploader {
  return async (command, args, secrets) => {
    const {environment} = buildChildEnvironment(context.environment, {secrets: new Map(secrets), sshAgent: false, marker: 'secure publish'})
    let output = ''
    const shown = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output = (output + chunk.toString('utf8')).slice(-16_384)
        context.stderr.write(chunk, done)
      },
    })
    const {exitCode} = await runChild({
      command,
      args: [...args],
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
    return {exitCode, output}
  }
}

/** The target for the repository's one package manifest; [publish] kind decides when it has several. */
async function chooseTarget(options: PublishOptions, settings: PublishProfileSettings): Promise<ReleaseTarget> {
  const names = new Set(await readdir(options.repository).catch(() => [] as string[]))
  const found = (Object.keys(MANIFESTS) as Array<keyof typeof MANIFESTS>).filter((kind) => names.has(MANIFESTS[kind]))
  const kind = settings.kind ?? (found.length === 1 ? found[0] : undefined)
  const stage = options.stage ?? settings.stage ?? false
  if (stage && kind !== 'npm' && kind !== undefined) {
    throw new UsageError(`staged publishing is npm's; ${kind} has none`, {code: 'PUBLISH_STAGE_UNSUPPORTED', hint: 'drop --stage, or stage = true under [publish]'})
  }
  if (kind === 'npm') return npmTarget(settings, {...options, stage})
  if (kind === 'pypi') return pypiTarget(settings, options)
  if (kind === 'cargo') return cargoTarget(settings, options)
  const files = found.map((each) => MANIFESTS[each])
  throw new UsageError(found.length > 1 ? `this repository has ${files.join(' and ')}` : 'found no package.json, pyproject.toml or Cargo.toml here', {
    code: 'PUBLISH_NO_PACKAGE',
    hint: found.length > 1 ? 'say which to publish: kind = "npm", "pypi" or "cargo" under [publish]' : 'run secure publish at the root of the package',
  })
}

/** Runs the build and pack in the sandbox; the packed files come out into `workspace`. */
async function buildInSandbox(
  options: PublishOptions,
  context: PublishContext,
  settings: PublishProfileSettings,
  image: string | undefined,
  target: ReleaseTarget,
  workspace: string,
): Promise<void> {
  const pack = target.buildScript(PACK_DIRECTORY)
  context.notice(`secure: building in the sandbox, with no credentials: ${settings.build ? `${settings.build} && ` : ''}${pack}`)
  const exitCode = await runSandbox(
    {
      repository: options.repository,
      command: ['sh', '-c', settings.build ? `${settings.build} && ${pack}` : pack],
      image,
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
