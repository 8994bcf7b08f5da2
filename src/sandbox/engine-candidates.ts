import {createHash} from 'node:crypto'
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {UsageError} from '../errors.js'

/** How to reach a container engine's Docker-compatible API. */
export type EngineEndpoint =
  | {protocol: 'unix'; socketPath: string}
  | {protocol: 'tcp'; host: string; port: number; tls: TlsFiles | undefined}
  | {protocol: 'ssh'; host: string; port: number; username: string | undefined}

/** Where a TLS-protected engine's client certificate and CA are. */
export interface TlsFiles {
  ca: string
  cert: string
  key: string
}

/** An engine `secure run` may use, and why it is on the list. */
export interface EngineCandidate {
  endpoint: EngineEndpoint
  /** For messages: `--engine`, `DOCKER_HOST`, `docker context "remote"`, `rootless Podman`, … */
  source: string
  /**
   * Chosen by the user (flag, profile, DOCKER_HOST, a Docker context): if it does not answer,
   * that is an error, not a reason to fall back to another engine the user did not ask for.
   */
  explicit: boolean
}

/** What {@link listEngineCandidates} reads; nothing comes from the process itself. */
export interface EngineDiscoveryInputs {
  /** `--engine` or the user config's `engine`: a URL (`unix:///…`, `tcp://…`, `ssh://…`), and which of them. */
  configured: {url: string; source: string} | undefined
  environment: Readonly<Record<string, string | undefined>>
  home: string
  uid: number
  readFile: (path: string) => Promise<string | undefined>
  isSocket: (path: string) => Promise<boolean>
}

/**
 * The discovery inputs of this process's user: its files and sockets, and the engine `--engine`
 * (first) or the `engine` under `[sandbox]` in the user's config names.
 */
export function engineDiscoveryInputs(
  environment: Readonly<Record<string, string | undefined>>,
  home: string,
  engineFlag: string | undefined,
  configuredEngine: string | undefined,
): EngineDiscoveryInputs {
  return {
    configured: engineFlag ? {url: engineFlag, source: '--engine'} : configuredEngine ? {url: configuredEngine, source: 'config [sandbox] engine'} : undefined,
    environment,
    home,
    uid: process.getuid?.() ?? 0,
    readFile: (path) => readFile(path, 'utf8').catch(() => undefined),
    isSocket: async (path) => (await stat(path).catch(() => undefined))?.isSocket() ?? false,
  }
}

/**
 * The engines to try, in order (issue 3): the configured one, `DOCKER_HOST`, the current Docker
 * context, then the sockets that exist: rootless Podman, rootless Docker, rootful Podman, rootful
 * Docker. Rootless first: a rootful engine's socket is root on the host.
 */
export async function listEngineCandidates(inputs: EngineDiscoveryInputs): Promise<EngineCandidate[]> {
  const candidates: EngineCandidate[] = []
  if (inputs.configured) {
    const {url, source} = inputs.configured
    candidates.push({endpoint: parseEngineUrl(url, source, inputs.environment), source, explicit: true})
  }
  const dockerHost = inputs.environment.DOCKER_HOST
  if (dockerHost) candidates.push({endpoint: parseEngineUrl(dockerHost, 'DOCKER_HOST', inputs.environment), source: 'DOCKER_HOST', explicit: true})
  const context = await readCurrentDockerContext(inputs)
  if (context) candidates.push(context)

  const runtimeDirectory = inputs.environment.XDG_RUNTIME_DIR || `/run/user/${inputs.uid}`
  const sockets: Array<[string, string]> = [
    [join(runtimeDirectory, 'podman', 'podman.sock'), 'rootless Podman'],
    [join(runtimeDirectory, 'docker.sock'), 'rootless Docker'],
    [join(inputs.home, '.docker', 'run', 'docker.sock'), 'Docker Desktop'],
    ['/run/podman/podman.sock', 'rootful Podman'],
    ['/var/run/docker.sock', 'rootful Docker'],
  ]
  for (const [socketPath, source] of sockets) {
    if (await inputs.isSocket(socketPath)) candidates.push({endpoint: {protocol: 'unix', socketPath}, source, explicit: false})
  }
  return candidates
}

/** Reads an engine URL as Docker does: `unix:///path`, `tcp://host:port` (TLS per DOCKER_TLS_VERIFY), `ssh://user@host`. */
export function parseEngineUrl(url: string, where: string, environment: Readonly<Record<string, string | undefined>>): EngineEndpoint {
  const fail = () =>
    new UsageError(`${where}: "${url}" is not an engine address`, {
      code: 'ENGINE_URL_INVALID',
      hint: 'use unix:///path/to/engine.sock, tcp://host:2376 or ssh://user@host',
    })
  if (url.startsWith('/')) return {protocol: 'unix', socketPath: url}
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw fail()
  }
  switch (parsed.protocol) {
    case 'unix:':
      if (!parsed.pathname) throw fail()
      return {protocol: 'unix', socketPath: decodeURIComponent(parsed.pathname)}
    case 'tcp:':
    case 'https:':
    case 'http:': {
      if (!parsed.hostname) throw fail()
      const tls = parsed.protocol === 'https:' || (parsed.protocol === 'tcp:' && Boolean(environment.DOCKER_TLS_VERIFY))
      const certificateDirectory = environment.DOCKER_CERT_PATH
      return {
        protocol: 'tcp',
        host: parsed.hostname,
        port: Number(parsed.port || (tls ? 2376 : 2375)),
        tls: tls ? tlsFilesIn(certificateDirectory ?? join(environment.HOME ?? '', '.docker')) : undefined,
      }
    }
    case 'ssh:':
      if (!parsed.hostname) throw fail()
      return {protocol: 'ssh', host: parsed.hostname, port: Number(parsed.port || 22), username: parsed.username || undefined}
    default:
      throw fail()
  }
}

/** Shows an endpoint as a URL, for messages. */
export function describeEndpoint(endpoint: EngineEndpoint): string {
  switch (endpoint.protocol) {
    case 'unix':
      return `unix://${endpoint.socketPath}`
    case 'tcp':
      return `tcp://${endpoint.host}:${endpoint.port}${endpoint.tls ? ' (TLS)' : ''}`
    case 'ssh':
      return `ssh://${endpoint.username ? `${endpoint.username}@` : ''}${endpoint.host}:${endpoint.port}`
  }
}

function tlsFilesIn(directory: string): TlsFiles {
  return {ca: join(directory, 'ca.pem'), cert: join(directory, 'cert.pem'), key: join(directory, 'key.pem')}
}

/**
 * The current Docker context (`DOCKER_CONTEXT`, else `currentContext` in the Docker config), as
 * the docker CLI stores it: `contexts/meta/<sha256 of the name>/meta.json`, TLS files beside it.
 */
async function readCurrentDockerContext(inputs: EngineDiscoveryInputs): Promise<EngineCandidate | undefined> {
  const configDirectory = inputs.environment.DOCKER_CONFIG || join(inputs.home, '.docker')
  let name = inputs.environment.DOCKER_CONTEXT
  if (!name) {
    const config = parseJson(await inputs.readFile(join(configDirectory, 'config.json'))) as {currentContext?: unknown} | undefined
    name = typeof config?.currentContext === 'string' ? config.currentContext : undefined
  }
  if (!name || name === 'default') return undefined
  const id = createHash('sha256').update(name).digest('hex')
  const meta = parseJson(await inputs.readFile(join(configDirectory, 'contexts', 'meta', id, 'meta.json'))) as
    | {Endpoints?: {docker?: {Host?: unknown; SkipTLSVerify?: unknown}}}
    | undefined
  const host = meta?.Endpoints?.docker?.Host
  if (typeof host !== 'string') {
    throw new UsageError(`Docker context "${name}" has no engine address`, {
      code: 'DOCKER_CONTEXT_INVALID',
      hint: 'check it with docker context inspect, or pick another with docker context use',
    })
  }
  const endpoint = parseEngineUrl(host, `docker context "${name}"`, {})
  if (endpoint.protocol === 'tcp' && (await inputs.readFile(join(configDirectory, 'contexts', 'tls', id, 'docker', 'ca.pem'))) !== undefined) {
    endpoint.tls = tlsFilesIn(join(configDirectory, 'contexts', 'tls', id, 'docker'))
  }
  return {endpoint, source: `docker context "${name}"`, explicit: true}
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
