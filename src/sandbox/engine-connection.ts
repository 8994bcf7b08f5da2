import {readFile} from 'node:fs/promises'
import type Dockerode from 'dockerode'

import {EnvironmentError} from '../errors.js'
import {type EngineCandidate, type EngineEndpoint, describeEndpoint, engineDiscoveryInputs, listEngineCandidates} from './engine-candidates.js'
import {type EngineFacts, type EngineInfoSource, type LibpodInfo, detectEngineFacts} from './engine-facts.js'
import {loadDockerode} from './load-dockerode.js'

/** An engine that answered, with what it is. */
export interface ConnectedEngine {
  candidate: EngineCandidate
  facts: EngineFacts
  docker: Dockerode
}

/**
 * Connects to the first candidate that answers. An engine the user chose (flag, profile,
 * DOCKER_HOST, Docker context) that does not answer is an error: `secure` never swaps in another
 * engine, with other isolation, behind the user's back.
 */
export async function connectToEngine(candidates: readonly EngineCandidate[], options: {timeoutMs?: number} = {}): Promise<ConnectedEngine> {
  const tried: string[] = []
  // dockerode is loaded only by commands that use an engine, and without what they do not use.
  const Docker = await loadDockerode()
  for (const candidate of candidates) {
    const where = `${candidate.source}: ${describeEndpoint(candidate.endpoint)}`
    const docker = new Docker(await dockerodeOptions(candidate.endpoint, options.timeoutMs ?? 10_000))
    try {
      // No separate ping: the first question detection asks fails the same way on a dead engine.
      return {candidate, facts: await withDeadline(detectEngineFacts(engineInfoSource(docker)), options.timeoutMs ?? 10_000), docker}
    } catch (error) {
      if (candidate.explicit && reasonOf(error) === 'EACCES') {
        throw new EnvironmentError(`the container engine at ${where} does not let this user in (EACCES on its socket)`, {
          code: 'ENGINE_FORBIDDEN',
          hint: 'use a rootless engine of your own (secure sandbox doctor explains how); access to a rootful one\'s socket is root on this machine',
          cause: error,
        })
      }
      if (candidate.explicit) {
        throw new EnvironmentError(`the container engine at ${where} does not answer (${reasonOf(error)})`, {
          code: 'ENGINE_UNREACHABLE',
          hint: 'start it, or choose another with --engine; secure sandbox doctor explains how to get rootless Podman',
          cause: error,
        })
      }
      tried.push(`${where} (${reasonOf(error)})`)
    }
  }
  throw new EnvironmentError(tried.length > 0 ? `no container engine answers: tried ${tried.join('; ')}` : 'no container engine found', {
    code: 'ENGINE_MISSING',
    hint: 'start rootless Podman (podman system service) or Docker, or name one with --engine; secure sandbox doctor explains how',
  })
}

/** Connects to the engine `--engine` names, else the user config's, else the first one discovered. */
export async function connectToChosenEngine(
  environment: Readonly<Record<string, string | undefined>>,
  home: string,
  engineFlag: string | undefined,
  configuredEngine: string | undefined,
): Promise<ConnectedEngine> {
  return connectToEngine(await listEngineCandidates(engineDiscoveryInputs(environment, home, engineFlag, configuredEngine)))
}

/** An engine that takes the connection but never answers (a hung daemon) must not hang secure. */
async function withDeadline<T>(work: Promise<T>, milliseconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), {code: `no answer in ${milliseconds / 1000} s`})), milliseconds)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * How dockerode reaches the engine. Only connecting is bounded (docker-modem's connectionTimeout):
 * its `timeout` is an idle timeout on every request, streams included, so a build step or a test
 * suite quiet for that long had its wait() cut off and the run lost its exit code.
 */
async function dockerodeOptions(endpoint: EngineEndpoint, connectionTimeout: number): Promise<Dockerode.DockerOptions & {connectionTimeout: number}> {
  switch (endpoint.protocol) {
    case 'unix':
      return {socketPath: endpoint.socketPath, connectionTimeout}
    case 'tcp': {
      if (!endpoint.tls) return {protocol: 'http', host: endpoint.host, port: endpoint.port, connectionTimeout}
      const [ca, cert, key] = await Promise.all([endpoint.tls.ca, endpoint.tls.cert, endpoint.tls.key].map((file) => readTlsFile(file)))
      return {protocol: 'https', host: endpoint.host, port: endpoint.port, ca, cert, key, connectionTimeout}
    }
    case 'ssh':
      return {protocol: 'ssh', host: endpoint.host, port: endpoint.port, username: endpoint.username, connectionTimeout}
  }
}

async function readTlsFile(file: string): Promise<Buffer> {
  return readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new EnvironmentError(`cannot read the engine's TLS file ${file}: ${error.code ?? error.message}`, {
      code: 'ENGINE_TLS_MISSING',
      hint: 'set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem',
    })
  })
}

/** dockerode as the calls detection needs; Podman's libpod endpoint goes through the same connection. */
function engineInfoSource(docker: Dockerode): EngineInfoSource {
  return {
    version: () => docker.version() as ReturnType<EngineInfoSource['version']>,
    info: () => docker.info() as ReturnType<EngineInfoSource['info']>,
    libpodInfo: () =>
      new Promise((resolve, reject) => {
        // Any /vX.Y.Z/ prefix is accepted; v4.0.0 is the oldest libpod API with the fields used.
        docker.modem.dial({path: '/v4.0.0/libpod/info', method: 'GET', statusCodes: {200: true}, options: {}}, (error, data) => {
          if (!error) resolve(data as LibpodInfo)
          // Docker has no libpod API: that answer is what tells it from Podman.
          else if ((error as {statusCode?: number}).statusCode === 404) resolve(undefined)
          else reject(error)
        })
      }),
  }
}

function reasonOf(error: unknown): string {
  const {code, message} = error as {code?: string; message?: string}
  return code ?? String(message ?? error).split('\n')[0]!
}
