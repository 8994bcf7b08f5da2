import {chmod} from 'node:fs/promises'
import {createServer} from 'node:http'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {connectToEngine} from '../../src/sandbox/engine-connection.js'
import {type EngineCandidate} from '../../src/sandbox/engine-candidates.js'
import {givenDockerLikeEngine, givenPodmanLikeEngine} from '../helpers/fake-engine.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const unix = (socketPath: string, source: string, explicit: boolean): EngineCandidate => ({endpoint: {protocol: 'unix', socketPath}, source, explicit})

describe('connectToEngine', () => {
  it('connects through dockerode and finds out what the engine is', async () => {
    const directory = await makeTempDir()
    const socketPath = await givenPodmanLikeEngine(directory)
    const engine = await connectToEngine([unix(socketPath, 'rootless Podman', false)])
    expect(engine.candidate.source).toBe('rootless Podman')
    expect(engine.facts).toEqual({kind: 'podman', version: '4.3.1', architecture: 'amd64', rootless: true, limitsEnforced: true, limitsProblem: undefined, storageDriver: 'overlay'})
  })

  it('tells Docker by its answer to the libpod question (404)', async () => {
    const directory = await makeTempDir()
    const socketPath = await givenDockerLikeEngine(directory)
    const engine = await connectToEngine([unix(socketPath, 'rootful Docker', false)])
    expect(engine.facts).toEqual({kind: 'docker', version: '20.10.24', architecture: 'arm64', rootless: false, limitsEnforced: true, limitsProblem: undefined, storageDriver: 'overlay2'})
  })

  it('passes over a discovered socket that does not answer', async () => {
    const directory = await makeTempDir()
    const socketPath = await givenPodmanLikeEngine(directory)
    const engine = await connectToEngine([unix(join(directory, 'stale.sock'), 'rootless Docker', false), unix(socketPath, 'rootful Podman', false)])
    expect(engine.candidate.source).toBe('rootful Podman')
  })

  it('never falls back from an engine the user chose', async () => {
    const directory = await makeTempDir()
    const socketPath = await givenPodmanLikeEngine(directory)
    await expect(connectToEngine([unix(join(directory, 'gone.sock'), 'DOCKER_HOST', true), unix(socketPath, 'rootless Podman', false)])).rejects.toMatchObject({
      code: 'ENGINE_UNREACHABLE',
      message: `the container engine at DOCKER_HOST: unix://${join(directory, 'gone.sock')} does not answer (ENOENT)`,
    })
  })

  it.runIf(process.getuid?.() !== 0)('says so when the socket does not let this user in, and what to do instead', async () => {
    const directory = await makeTempDir()
    const socketPath = await givenPodmanLikeEngine(directory)
    await chmod(socketPath, 0o000)
    await expect(connectToEngine([unix(socketPath, '--engine', true)])).rejects.toMatchObject({
      code: 'ENGINE_FORBIDDEN',
      message: `the container engine at --engine: unix://${socketPath} does not let this user in (EACCES on its socket)`,
      hint: expect.stringContaining('rootless engine of your own'),
    })
  })

  it('still reaches an engine over SSH (its transport is loaded on first use, not at start-up)', async () => {
    // Nothing listens on port 1: the SSH client itself must report the refused connection.
    const ssh: EngineCandidate = {endpoint: {protocol: 'ssh', host: '127.0.0.1', port: 1, username: 'me'}, source: '--engine', explicit: true}
    await expect(connectToEngine([ssh])).rejects.toMatchObject({code: 'ENGINE_UNREACHABLE', message: expect.stringMatching(/does not answer \(ECONNREFUSED\)$/)})
  })

  it('gives up on an engine that takes the connection but never answers', async () => {
    const directory = await makeTempDir()
    const socketPath = join(directory, 'hung.sock')
    const hung = createServer(() => {})
    await new Promise<void>((resolve) => hung.listen(socketPath, resolve))
    try {
      await expect(connectToEngine([unix(socketPath, '--engine', true)], {timeoutMs: 300})).rejects.toMatchObject({code: 'ENGINE_UNREACHABLE', message: expect.stringMatching(/does not answer \(no answer in 0\.3 s\)$/)})
    } finally {
      hung.closeAllConnections()
      await new Promise((resolve) => hung.close(resolve))
    }
  })

  it('says in one line that no engine was found, and what to do', async () => {
    await expect(connectToEngine([])).rejects.toMatchObject({code: 'ENGINE_MISSING', message: 'no container engine found', hint: expect.stringContaining('rootless Podman')})
  })
})
