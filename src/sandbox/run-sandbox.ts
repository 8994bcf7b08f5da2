import {constants} from 'node:fs'
import {type FileHandle, chmod, mkdtemp, open, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {type Readable, type Writable} from 'node:stream'
import type Dockerode from 'dockerode'

import {EnvironmentError, PolicyError, SecureError, UsageError} from '../errors.js'
import {type Progress} from '../output.js'
import {type SecurePaths} from '../paths.js'
import {loadProfileForDirectory} from '../profile/load-profile.js'
import {isAmbientCredential} from '../secrets/ambient-credentials.js'
import {FORWARDED_SIGNALS} from '../signals.js'
import {ENVIRONMENT_ALLOW_LIST, type SandboxSpec, buildContainerSpec, engineRemovesContainer} from './container-spec.js'
import {describeOwner, removeContainersOfGoneOwners} from './container-owner.js'
import {copyOutOfArchive, verifyOutPath} from './copy-out.js'
import {describeEndpoint} from './engine-candidates.js'
import {connectToChosenEngine} from './engine-connection.js'
import {loadDockerode} from './load-dockerode.js'
import {type EngineFacts, describeIsolation} from './engine-facts.js'
import {DEFAULT_BASE_IMAGE, prepareRunImage} from './sandbox-image.js'
import {listWorkspaceExclusions} from './workspace-exclusions.js'

/** What the user asked `secure run` for on the command line; undefined is "not given". */
export interface RunSandboxOptions {
  /** The repository: mounted read-only, copied into the container's throwaway workspace. */
  repository: string
  command: readonly string[]
  /** `--image`; else the profile's, else the one the repository's files call for. */
  image: string | undefined
  /** `--engine`; else the user config's, else discovery. */
  engine: string | undefined
  /** `--env NAME`: passed from the host; a credential-looking name only with `forceEnvironment`. */
  passEnvironment: readonly string[]
  forceEnvironment: boolean
  network: boolean | undefined
  /** A rootful engine is refused when this, the profile or the user config asks for it. */
  requireRootless: boolean
  /** Memory (MiB), process and CPU limits; else the user config's, else the defaults. */
  memory: number | undefined
  pids: number | undefined
  cpus: number | undefined
  /** `--out PATH`: results copied back into the checkout after the command, regular files only. */
  outPaths: readonly string[]
  /** Where --out results land instead of the checkout (secure publish's fresh artifact folder). */
  outDestination?: string
}

/** Limits of a sandbox when neither the flags nor the user's config set them. */
const DEFAULT_LIMITS = {memory: 2048, pids: 512, cpus: 2}
const WORKSPACE_BYTES = 2 * 1024 ** 3

/** What `secure run` takes from the outside world. */
export interface RunSandboxContext {
  environment: Readonly<Record<string, string | undefined>>
  paths: Pick<SecurePaths, 'configFile' | 'trustDirectory' | 'home' | 'cacheDirectory'>
  uid: number
  gid: number
  stdin: Readable & {isTTY?: boolean; setRawMode?: (raw: boolean) => unknown}
  stdout: Writable & {columns?: number; rows?: number}
  stderr: Writable
  interactive: boolean
  signals: NodeJS.EventEmitter
  notice: (line: string) => void
  progress: (title: string) => Progress
}

/**
 * `secure run`: runs the command in a throwaway copy of the repository inside a container that holds
 * no credentials and can change nothing the host will later run. Returns the command's exit code;
 * the container is removed on every path out.
 */
export async function runSandbox(options: RunSandboxOptions, context: RunSandboxContext): Promise<number> {
  const outPaths = options.outPaths.map((path) => verifyOutPath(path))
  const environment = sandboxEnvironment(options, context.environment)
  // Loading dockerode (~100 ms) overlaps reading the profile; connecting waits for both.
  const dockerodeLoaded = loadDockerode()
  // A repository's own [sandbox] table counts only once the user allowed its profile.
  const {userConfig, profile} = await loadProfileForDirectory(options.repository, context.paths, context.environment)
  await dockerodeLoaded
  const settings = userConfig.sandbox
  const requireRootless = options.requireRootless || profile.sandbox.requireRootless === true || settings.requireRootless === true
  const network = options.network ?? profile.sandbox.network ?? false

  const engine = await connectToChosenEngine(context.environment, context.paths.home, options.engine, settings.engine)
  context.notice(describeIsolation(engine.facts, `${engine.candidate.source}: ${describeEndpoint(engine.candidate.endpoint)}`))
  if (requireRootless && !engine.facts.rootless) {
    throw new PolicyError(`refusing a rootful engine (${engine.candidate.source}): rootless is required`, {
      code: 'ENGINE_ROOTFUL',
      hint: 'secure sandbox doctor explains how to get rootless Podman or Docker',
    })
  }
  const [image, exclusions] = await Promise.all([
    prepareRunImage(engine.docker, options.image ?? profile.sandbox.image, options.repository, {
      baseImage: settings.baseImage ?? DEFAULT_BASE_IMAGE,
      cacheDirectory: context.paths.cacheDirectory,
      architecture: engine.facts.architecture,
      notice: context.notice,
      progress: context.progress,
    }),
    listWorkspaceExclusions(options.repository),
    removeContainersOfGoneOwners(engine.docker),
  ])

  const spec: SandboxSpec = {
    image,
    command: options.command,
    repository: options.repository,
    exclusions,
    environment,
    uid: context.uid,
    gid: context.gid,
    network,
    caBundle: network ? await findHostCaBundle() : undefined,
    limits: {
      memoryBytes: (options.memory ?? settings.memory ?? DEFAULT_LIMITS.memory) * 1024 ** 2,
      pids: options.pids ?? settings.pids ?? DEFAULT_LIMITS.pids,
      cpus: options.cpus ?? settings.cpus ?? DEFAULT_LIMITS.cpus,
      workspaceBytes: WORKSPACE_BYTES,
    },
    init: true,
    terminal: context.interactive ? {rows: context.stdout.rows ?? 0, columns: context.stdout.columns ?? 0} : undefined,
    out: outPaths.length > 0 ? {paths: outPaths, directory: await makeOutDirectory(context.uid)} : undefined,
    owner: await describeOwner(),
  }
  const container = await createContainer(engine.docker, spec, engine.facts, context.notice).catch((error: unknown) => {
    throw engineRefused(error, options.repository)
  })
  const forward = (signal: NodeJS.Signals) => void container.kill({signal}).catch(() => {})
  // The user's terminal changed size (Node turns SIGWINCH into 'resize'): so does the command's.
  const resize = () => {
    const {rows, columns} = context.stdout
    if (rows && columns) void container.resize({h: rows, w: columns}).catch(() => {})
  }
  try {
    const stream = await attachContainer(engine.docker, container.id)
    if (spec.terminal) {
      stream.pipe(context.stdout, {end: false})
    } else {
      engine.docker.modem.demuxStream(stream, context.stdout, context.stderr)
    }
    const finished = new Promise<void>((resolve) => stream.once('end', resolve).once('close', resolve))
    for (const signal of FORWARDED_SIGNALS) context.signals.on(signal, forward)
    // Waiting before starting: with AutoRemove, a fast command's container may be gone by the time a
    // later wait asks for it (verified on Docker 20.10 and Podman 4.3). A container the engine
    // removes is waited for until it is gone, as `docker run --rm` does: the run ends without it.
    const condition = engineRemovesContainer(engine.facts) ? 'removed' : 'next-exit'
    const exited = container.wait({condition}) as Promise<{StatusCode: number; Error?: {Message?: string} | null}>
    // A container that fails to start is removed below, and its wait may fail then: not an error of its own.
    exited.catch(() => {})
    await container.start().catch((error: unknown) => {
      throw engineRefused(error, options.repository)
    })
    if (spec.terminal) {
      // A terminal in raw mode hands every key, Ctrl-C included, to the container's own terminal.
      context.stdin.setRawMode?.(true)
      // The workspace script sized the terminal before the command; a resize since then is caught
      // here, as the engine resizes only a running container.
      resize()
      context.stdout.on('resize', resize)
    }
    context.stdin.pipe(stream)
    const {StatusCode, Error: waitError} = await exited
    await finished
    if (waitError || StatusCode < 0) {
      throw new EnvironmentError(`the container engine lost track of the command's exit (${waitError?.Message ?? `status ${StatusCode}`})`, {
        code: 'ENGINE_WAIT_FAILED',
        hint: 'run it again; the command\'s result is unknown, so it is not reported as a success',
      })
    }
    for (const [index, path] of outPaths.entries()) await copyResultOut(join(spec.out!.directory, `${index}.tar`), path, options.outDestination ?? options.repository, context.notice)
    return StatusCode
  } finally {
    for (const signal of FORWARDED_SIGNALS) context.signals.off(signal, forward)
    context.stdout.off('resize', resize)
    context.stdin.unpipe()
    if (spec.terminal) context.stdin.setRawMode?.(false)
    // stdin was only read for the container: let the process end without waiting on it.
    context.stdin.pause()
    await container.remove({force: true}).catch(() => {})
    if (spec.out) await rm(spec.out.directory, {recursive: true, force: true})
  }
}

/**
 * A fresh directory the container packs --out results into. The container's user must write to
 * it: that is this user under Docker and rootless Podman's keep-id, but another user (nobody, or
 * the engine's own user) when root runs secure, so then it is open to all.
 */
async function makeOutDirectory(uid: number): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'secure-out-'))
  if (uid === 0) await chmod(directory, 0o777)
  return directory
}

/** Copies one --out result, packed by the container, into the checkout, and says what it did. */
async function copyResultOut(packed: string, path: string, repository: string, notice: (line: string) => void): Promise<void> {
  // The container could have put anything there: only a regular file is read, never through a link.
  let file: FileHandle
  try {
    file = await open(packed, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    notice(`secure: --out ${path}: the command left no such file or directory`)
    return
  }
  try {
    if (!(await file.stat()).isFile()) {
      notice(`secure: --out ${path}: the command left no such file or directory`)
      return
    }
    const {written, skipped} = await copyOutOfArchive(file.createReadStream({autoClose: false}), repository, path).catch((error: unknown) => {
      if (error instanceof SecureError) throw error
      throw new EnvironmentError(`--out ${path}: copying the result into the checkout failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
        code: 'OUT_COPY_FAILED',
        hint: 'check that the checkout is writable and the disk has room; the files copied so far stay',
        cause: error,
      })
    })
    notice(`secure: --out ${path}: copied ${written.length} file${written.length === 1 ? '' : 's'}${skipped.length > 0 ? `, skipped ${skipped.length}` : ''}`)
    for (const {path: skippedPath, reason} of skipped) notice(`secure:   skipped ${skippedPath}: ${reason}`)
  } finally {
    await file.close()
  }
}

/** The host's CA bundle, for a networked run behind a TLS-intercepting proxy (sandbox.md, "Network"). */
async function findHostCaBundle(): Promise<string | undefined> {
  for (const file of HOST_CA_BUNDLES) {
    if ((await stat(file).catch(() => undefined))?.isFile()) return file
  }
  return undefined
}

/** Where distributions keep the system CA bundle: Debian/Ubuntu, Fedora/RHEL, Alpine/macOS. */
const HOST_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem']

/** The container's whole environment: the allow-list, then what the user passes by name. */
function sandboxEnvironment(options: RunSandboxOptions, host: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const environment: Record<string, string> = {}
  for (const name of ENVIRONMENT_ALLOW_LIST) if (host[name] !== undefined) environment[name] = host[name]!
  for (const name of options.passEnvironment) {
    if (isAmbientCredential(name) && !options.forceEnvironment) {
      throw new PolicyError(`refusing to pass ${name} into the sandbox: it looks like a credential`, {
        code: 'SANDBOX_CREDENTIAL_ENV',
        hint: 'the sandbox is for code you do not trust; if you really mean it, add --force-env',
      })
    }
    if (host[name] === undefined) throw new UsageError(`--env ${name}: not set in this shell`, {code: 'ENV_NOT_SET', hint: 'set it, or drop --env'})
    environment[name] = host[name]!
  }
  return environment
}

/**
 * Attaches to the container's stdin, stdout and stderr. Not through dockerode's attach(): it sends
 * its options as a JSON body too, which Docker ignores but Podman feeds to the command's stdin (so
 * every command read `{"stream":true,…}` first). Here an empty body of explicit length goes with
 * them (no body at all makes docker-modem switch to chunked encoding, on which Docker hangs up).
 * The path must end in `?`: docker-modem appends the options there.
 */
function attachContainer(docker: Dockerode, id: string): Promise<NodeJS.ReadWriteStream> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/attach?`,
        method: 'POST',
        isStream: true,
        hijack: true,
        openStdin: true,
        statusCodes: {101: true, 200: true, 404: 'no such container', 500: 'server error'},
        options: {stream: true, stdin: true, stdout: true, stderr: true},
        file: Buffer.alloc(0),
      },
      (error, stream) => (error ? reject(error) : resolve(stream as NodeJS.ReadWriteStream)),
    )
  })
}

/**
 * The engine's answer when it refuses to create or start the container, as an environment problem
 * with the engine's own words. The commonest: an engine that runs as another user (another user's
 * rootless Podman) cannot enter the repository's directories. Anything but an engine's answer
 * (one with an HTTP status) is left as it is.
 */
function engineRefused(error: unknown, repository: string): unknown {
  const {statusCode, json, message} = error as {statusCode?: number; json?: {message?: string} | null; message?: string}
  if (statusCode === undefined) return error
  const answer = (json?.message ?? String(message)).trim().split('\n')[0]!
  if (/permission denied/i.test(answer) && answer.includes(repository)) {
    return new EnvironmentError(`the container engine cannot read the repository ${repository} (permission denied)`, {
      code: 'ENGINE_CANNOT_READ_REPOSITORY',
      hint: 'the engine runs as another user: let it reach the repository (chmod o+x on every directory above it), or use an engine of your own',
      cause: error,
    })
  }
  return new EnvironmentError(`the container engine refused the container: ${answer}`, {
    code: 'ENGINE_REFUSED',
    hint: 'secure sandbox doctor checks the engine; --debug shows its whole answer',
    cause: error,
  })
}

async function createContainer(docker: Dockerode, spec: SandboxSpec, facts: EngineFacts, notice: (line: string) => void): Promise<Dockerode.Container> {
  try {
    return await docker.createContainer(buildContainerSpec(spec, facts))
  } catch (error) {
    // Podman without catatonit cannot give the container an init (sandbox.md trap 1).
    if (facts.kind === 'podman' && /catatonit|container-init/.test(String((error as Error).message))) {
      notice('secure: warning: Podman has no init binary (install catatonit); running without one')
      return docker.createContainer(buildContainerSpec({...spec, init: false}, facts))
    }
    throw error
  }
}
