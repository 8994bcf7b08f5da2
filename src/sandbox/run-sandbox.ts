import {randomBytes} from 'node:crypto'
import {type Readable, type Writable} from 'node:stream'
import type Dockerode from 'dockerode'

import {EnvironmentError, PolicyError, UsageError} from '../errors.js'
import {isAmbientCredential} from '../secrets/ambient-credentials.js'
import {FORWARDED_SIGNALS} from '../signals.js'
import {type EngineDiscoveryInputs, describeEndpoint, listEngineCandidates} from './engine-candidates.js'
import {connectToEngine} from './engine-connection.js'
import {describeIsolation} from './engine-facts.js'
import {ENVIRONMENT_ALLOW_LIST, type SandboxSpec, buildContainerSpec} from './container-spec.js'

/** What the user asked `secure run` for. */
export interface RunSandboxOptions {
  /** The repository: mounted read-only, copied into the container's throwaway workspace. */
  repository: string
  command: readonly string[]
  image: string
  /** `--env NAME`: passed from the host; a credential-looking name only with `forceEnvironment`. */
  passEnvironment: readonly string[]
  forceEnvironment: boolean
  network: boolean
  requireRootless: boolean
  limits: SandboxSpec['limits']
}

/** What `secure run` takes from the outside world. */
export interface RunSandboxContext {
  environment: Readonly<Record<string, string | undefined>>
  /** Where to look for an engine, `--engine` included. */
  discovery: EngineDiscoveryInputs
  uid: number
  gid: number
  stdin: Readable & {isTTY?: boolean; setRawMode?: (raw: boolean) => unknown}
  stdout: Writable
  stderr: Writable
  interactive: boolean
  signals: NodeJS.EventEmitter
  notice: (line: string) => void
}

/**
 * `secure run`: runs the command in a throwaway copy of the repository inside a container that holds
 * no credentials and can change nothing the host will later run. Returns the command's exit code;
 * the container is removed on every path out.
 */
export async function runSandbox(options: RunSandboxOptions, context: RunSandboxContext): Promise<number> {
  const environment = sandboxEnvironment(options, context.environment)
  const engine = await connectToEngine(await listEngineCandidates(context.discovery))
  context.notice(describeIsolation(engine.facts, `${engine.candidate.source}: ${describeEndpoint(engine.candidate.endpoint)}`))
  if (options.requireRootless && !engine.facts.rootless) {
    throw new PolicyError(`refusing a rootful engine (${engine.candidate.source}): --require-rootless`, {
      code: 'ENGINE_ROOTFUL',
      hint: 'secure sandbox doctor explains how to get rootless Podman or Docker',
    })
  }
  await verifyImageExists(engine.docker, options.image)
  await removeStaleContainers(engine.docker)

  const spec: SandboxSpec = {
    image: options.image,
    command: options.command,
    repository: options.repository,
    environment,
    uid: context.uid,
    gid: context.gid,
    network: options.network,
    limits: options.limits,
    init: true,
    tty: context.interactive,
    runId: randomBytes(8).toString('hex'),
  }
  const container = await createContainer(engine.docker, spec, engine.facts.kind, context.notice)
  const forward = (signal: NodeJS.Signals) => void container.kill({signal}).catch(() => {})
  try {
    const stream = await attachContainer(engine.docker, container.id)
    if (spec.tty) {
      stream.pipe(context.stdout, {end: false})
    } else {
      engine.docker.modem.demuxStream(stream, context.stdout, context.stderr)
    }
    const finished = new Promise<void>((resolve) => stream.once('end', resolve).once('close', resolve))
    for (const signal of FORWARDED_SIGNALS) context.signals.on(signal, forward)
    // Waiting before starting: with AutoRemove, a fast command's container may be gone by the time a
    // later wait asks for it (verified on Docker 20.10 and Podman 4.3).
    const exited = container.wait({condition: 'next-exit'}) as Promise<{StatusCode: number; Error?: {Message?: string} | null}>
    await container.start()
    // A terminal in raw mode hands every key, Ctrl-C included, to the container's own terminal.
    if (spec.tty) context.stdin.setRawMode?.(true)
    context.stdin.pipe(stream)
    const {StatusCode, Error: waitError} = await exited
    await finished
    if (waitError || StatusCode < 0) {
      throw new EnvironmentError(`the container engine lost track of the command's exit (${waitError?.Message ?? `status ${StatusCode}`})`, {
        code: 'ENGINE_WAIT_FAILED',
        hint: 'run it again; the command\'s result is unknown, so it is not reported as a success',
      })
    }
    return StatusCode
  } finally {
    for (const signal of FORWARDED_SIGNALS) context.signals.off(signal, forward)
    context.stdin.unpipe()
    if (spec.tty) context.stdin.setRawMode?.(false)
    // stdin was only read for the container: let the process end without waiting on it.
    context.stdin.pause()
    // Already gone when it exited (AutoRemove); this is for the paths out before that.
    await container.remove({force: true}).catch(() => {})
  }
}

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
 * Removes the stopped containers of earlier runs: on Podman a run that was killed leaves its
 * container behind (no AutoRemove there, see container-spec.ts).
 */
async function removeStaleContainers(docker: Dockerode): Promise<void> {
  const stale = await docker.listContainers({all: true, filters: {label: ['dev.secure.run'], status: ['created', 'exited']}})
  await Promise.all(stale.map((container) => docker.getContainer(container.Id).remove({force: true}).catch(() => {})))
}

async function verifyImageExists(docker: Dockerode, image: string): Promise<void> {
  try {
    await docker.getImage(image).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode !== 404) throw error
    throw new EnvironmentError(`image ${image} is not built on this engine`, {code: 'IMAGE_MISSING', hint: 'build or import it first, or name another with --image'})
  }
}

async function createContainer(docker: Dockerode, spec: SandboxSpec, kind: 'docker' | 'podman', notice: (line: string) => void): Promise<Dockerode.Container> {
  try {
    return await docker.createContainer(buildContainerSpec(spec, {kind}))
  } catch (error) {
    // Podman without catatonit cannot give the container an init (sandbox.md trap 1).
    if (kind === 'podman' && /catatonit|container-init/.test(String((error as Error).message))) {
      notice('secure: warning: Podman has no init binary (install catatonit); running without one')
      return docker.createContainer(buildContainerSpec({...spec, init: false}, {kind}))
    }
    throw error
  }
}
