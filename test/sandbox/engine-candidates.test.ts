import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {type EngineDiscoveryInputs, listEngineCandidates, parseEngineUrl} from '../../src/sandbox/engine-candidates.js'

function givenMachine(overrides: Partial<EngineDiscoveryInputs> & {files?: Record<string, string>; sockets?: string[]} = {}): EngineDiscoveryInputs {
  const files = overrides.files ?? {}
  const sockets = new Set(overrides.sockets ?? [])
  return {
    configured: undefined,
    environment: {XDG_RUNTIME_DIR: '/run/user/1000'},
    home: '/home/me',
    uid: 1000,
    readFile: async (path) => files[path],
    isSocket: async (path) => sockets.has(path),
    ...overrides,
  }
}

const sources = async (inputs: EngineDiscoveryInputs) => (await listEngineCandidates(inputs)).map((candidate) => candidate.source)

describe('listEngineCandidates', () => {
  it('lists the sockets that exist, rootless before rootful', async () => {
    const inputs = givenMachine({sockets: ['/var/run/docker.sock', '/run/user/1000/podman/podman.sock', '/run/user/1000/docker.sock', '/run/podman/podman.sock']})
    expect(await sources(inputs)).toEqual(['rootless Podman', 'rootless Docker', 'rootful Podman', 'rootful Docker'])
  })

  it('finds nothing on a machine without an engine', async () => {
    expect(await listEngineCandidates(givenMachine())).toEqual([])
  })

  it('puts the configured engine first, then DOCKER_HOST, then the current Docker context, each marked explicit', async () => {
    const contextId = createHash('sha256').update('remote').digest('hex')
    const inputs = givenMachine({
      configured: {url: 'ssh://builder@build.example:2222', source: '--engine'},
      environment: {XDG_RUNTIME_DIR: '/run/user/1000', DOCKER_HOST: 'tcp://10.0.0.5:2375'},
      files: {
        '/home/me/.docker/config.json': '{"currentContext": "remote"}',
        [`/home/me/.docker/contexts/meta/${contextId}/meta.json`]: '{"Endpoints": {"docker": {"Host": "unix:///srv/engine.sock"}}}',
      },
      sockets: ['/run/user/1000/podman/podman.sock'],
    })
    const candidates = await listEngineCandidates(inputs)
    expect(candidates.map(({source, explicit}) => [source, explicit])).toEqual([
      ['--engine', true],
      ['DOCKER_HOST', true],
      ['docker context "remote"', true],
      ['rootless Podman', false],
    ])
    expect(candidates[0]!.endpoint).toEqual({protocol: 'ssh', host: 'build.example', port: 2222, username: 'builder'})
    expect(candidates[2]!.endpoint).toEqual({protocol: 'unix', socketPath: '/srv/engine.sock'})
  })

  it('ignores the "default" context and falls back to /run/user/<uid> without XDG_RUNTIME_DIR', async () => {
    const inputs = givenMachine({environment: {DOCKER_CONTEXT: 'default'}, sockets: ['/run/user/1000/docker.sock']})
    expect(await sources(inputs)).toEqual(['rootless Docker'])
  })
})

describe('parseEngineUrl', () => {
  it.each([
    ['unix:///run/user/1000/podman/podman.sock', {}, {protocol: 'unix', socketPath: '/run/user/1000/podman/podman.sock'}],
    ['/var/run/docker.sock', {}, {protocol: 'unix', socketPath: '/var/run/docker.sock'}],
    ['tcp://engine.example:2375', {}, {protocol: 'tcp', host: 'engine.example', port: 2375, tls: undefined}],
    [
      'tcp://engine.example',
      {DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs'},
      {protocol: 'tcp', host: 'engine.example', port: 2376, tls: {ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem'}},
    ],
    ['ssh://me@engine.example', {}, {protocol: 'ssh', host: 'engine.example', port: 22, username: 'me'}],
  ])('reads %s', (url, environment, expected) => {
    expect(parseEngineUrl(url, 'DOCKER_HOST', environment)).toEqual(expected)
  })

  it.each(['npipe:////./pipe/docker_engine', 'engine.example:2375', 'tcp://'])('refuses %s in one line naming where it came from', (url) => {
    expect(() => parseEngineUrl(url, 'DOCKER_HOST', {})).toThrow(`DOCKER_HOST: "${url}" is not an engine address`)
  })
})
