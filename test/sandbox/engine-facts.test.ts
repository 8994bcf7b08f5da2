import {describe, expect, it} from 'vitest'

import {type EngineInfoSource, describeIsolation, detectEngineFacts} from '../../src/sandbox/engine-facts.js'

// Responses as measured in shared/reference/sandbox.md §3.2 (Docker 20.10.24, Podman 4.3.1, cgroup v1).
const dockerVersion = {Version: '20.10.24', Arch: 'amd64', Components: [{Name: 'Engine', Version: '20.10.24'}]}
const podmanVersion = {Version: '4.3.1', Arch: 'amd64', Components: [{Name: 'Podman Engine', Version: '4.3.1'}, {Name: 'Conmon'}, {Name: 'OCI Runtime (runc)'}]}

function engine(version: object, info: object, libpod?: object): EngineInfoSource {
  return {
    version: async () => version,
    info: async () => info,
    libpodInfo: async () => {
      if (!libpod) throw new Error('(HTTP code 404) unexpected - page not found')
      return libpod
    },
  }
}

describe('detectEngineFacts', () => {
  it('rootful Docker: not rootless, limits enforced', async () => {
    const facts = await detectEngineFacts(engine(dockerVersion, {SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true, Driver: 'overlay2'}))
    expect(facts).toEqual({kind: 'docker', version: '20.10.24', architecture: 'amd64', rootless: false, limitsEnforced: true, limitsProblem: undefined, storageDriver: 'overlay2'})
  })

  it('rootless Docker on cgroup v1: rootless, and says limits are not enforced', async () => {
    const facts = await detectEngineFacts(
      engine(dockerVersion, {SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'], CgroupDriver: 'none', MemoryLimit: false, PidsLimit: false}),
    )
    expect(facts).toMatchObject({kind: 'docker', rootless: true, limitsEnforced: false})
  })

  it('rootless Podman 4.3 on cgroup v1: the compat /info claims limits, libpod tells the truth', async () => {
    const facts = await detectEngineFacts(
      engine(
        podmanVersion,
        {SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true},
        {host: {security: {rootless: true}, cgroupVersion: 'v1', cgroupControllers: []}, store: {graphDriverName: 'overlay'}},
      ),
    )
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
    const delegated = {host: {security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['cpu', 'memory', 'pids']}}
    const notDelegated = {host: {security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['cpu']}}
    expect((await detectEngineFacts(engine(podmanVersion, {}, delegated))).limitsEnforced).toBe(true)
    expect(await detectEngineFacts(engine(podmanVersion, {}, notDelegated))).toMatchObject({
      limitsEnforced: false,
      limitsProblem: 'the memory and pids cgroup controllers are not delegated to this user (has: cpu)',
    })
  })

  it('rootful Podman enforces limits', async () => {
    const facts = await detectEngineFacts(engine(podmanVersion, {}, {host: {security: {rootless: false}, cgroupVersion: 'v1', cgroupControllers: []}}))
    expect(facts).toMatchObject({kind: 'podman', rootless: false, limitsEnforced: true})
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
