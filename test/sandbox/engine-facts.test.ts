import {describe, expect, it} from 'vitest'

import {type EngineInfoSource, describeIsolation, detectEngineFacts} from '../../src/sandbox/engine-facts.js'

// Responses as measured in shared/reference/sandbox.md §3.2 (Docker 20.10.24, Podman 4.3.1, cgroup v1).
const dockerVersion = {Version: '20.10.24', Arch: 'amd64', Components: [{Name: 'Engine', Version: '20.10.24'}]}

/** Docker: no libpod API (404). */
function docker(info: object): EngineInfoSource {
  return {version: async () => dockerVersion, info: async () => info, libpodInfo: async () => undefined}
}

/** Podman, whose slow compat /version and /info detection must not wait for. */
function podman(host: object, store: object = {graphDriverName: 'overlay'}): EngineInfoSource {
  const notAsked = async () => {
    throw new Error('Podman\'s compat endpoint was asked')
  }
  return {version: notAsked, info: notAsked, libpodInfo: async () => ({host: {arch: 'amd64', ...host}, store, version: {Version: '4.3.1'}})}
}

describe('detectEngineFacts', () => {
  it('rootful Docker: not rootless, limits enforced', async () => {
    const facts = await detectEngineFacts(docker({SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true, Driver: 'overlay2'}))
    expect(facts).toEqual({kind: 'docker', version: '20.10.24', architecture: 'amd64', rootless: false, limitsEnforced: true, limitsProblem: undefined, storageDriver: 'overlay2'})
  })

  it('rootless Docker on cgroup v1: rootless, and says limits are not enforced', async () => {
    const facts = await detectEngineFacts(docker({SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'], CgroupDriver: 'none', MemoryLimit: false, PidsLimit: false}))
    expect(facts).toMatchObject({kind: 'docker', rootless: true, limitsEnforced: false})
  })

  it('rootless Podman 4.3 on cgroup v1: libpod tells the truth (its compat /info claims limits), and is all that is asked', async () => {
    const facts = await detectEngineFacts(podman({security: {rootless: true}, cgroupVersion: 'v1', cgroupControllers: []}))
    expect(facts).toEqual({
      kind: 'podman',
      version: '4.3.1',
      architecture: 'amd64',
      rootless: true,
      limitsEnforced: false,
      limitsProblem: 'rootless Podman cannot enforce limits on cgroup v1',
      storageDriver: 'overlay',
    })
  })

  it('rootless Podman on cgroup v2 enforces limits only with memory and pids delegated', async () => {
    expect((await detectEngineFacts(podman({security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['cpu', 'memory', 'pids']}))).limitsEnforced).toBe(true)
    expect(await detectEngineFacts(podman({security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['cpu']}))).toMatchObject({
      limitsEnforced: false,
      limitsProblem: 'the memory and pids cgroup controllers are not delegated to this user (has: cpu)',
    })
  })

  it('rootful Podman enforces limits', async () => {
    const facts = await detectEngineFacts(podman({security: {rootless: false}, cgroupVersion: 'v1', cgroupControllers: []}))
    expect(facts).toMatchObject({kind: 'podman', rootless: false, limitsEnforced: true})
  })

  it('an engine that fails the libpod question for another reason than 404 is not taken for Docker', async () => {
    const broken: EngineInfoSource = {...docker({}), libpodInfo: async () => Promise.reject(Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'}))}
    await expect(detectEngineFacts(broken)).rejects.toMatchObject({code: 'ECONNRESET'})
  })
})

describe('describeIsolation', () => {
  it('says plainly when the engine is rootful and limits are not enforced', () => {
    expect(describeIsolation({kind: 'docker', version: '28.2.2', architecture: 'amd64', rootless: false, limitsEnforced: false, limitsProblem: 'x', storageDriver: 'overlay2'}, 'rootful Docker')).toBe(
      'secure: isolation: Docker 28.2.2, ROOTFUL (a container escape is root on this host), limits NOT enforced: x (rootful Docker)',
    )
  })

  it('warns about vfs storage on Podman', () => {
    expect(describeIsolation({kind: 'podman', version: '4.3.1', architecture: 'amd64', rootless: true, limitsEnforced: true, limitsProblem: undefined, storageDriver: 'vfs'}, 'rootless Podman')).toBe(
      'secure: isolation: Podman 4.3.1, rootless, limits enforced; vfs storage: every start copies the image (rootless Podman)',
    )
  })
})
