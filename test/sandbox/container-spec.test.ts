import {describe, expect, it} from 'vitest'

import {type SandboxSpec, buildContainerSpec} from '../../src/sandbox/container-spec.js'

const spec: SandboxSpec = {
  image: 'secure-base:bookworm',
  command: ['npm', 'test'],
  repository: '/home/me/src/untrusted',
  exclusions: [],
  environment: {TERM: 'xterm'},
  uid: 1000,
  gid: 1000,
  network: false,
  caBundle: undefined,
  limits: {memoryBytes: 2 * 1024 ** 3, pids: 512, cpus: 2, workspaceBytes: 1024 ** 3},
  init: true,
  terminal: undefined,
  out: undefined,
  owner: 'laptop/4242/123456',
}

const DOCKER = {kind: 'docker', rootless: false} as const
const ROOTLESS_PODMAN = {kind: 'podman', rootless: true} as const
const ROOTFUL_PODMAN = {kind: 'podman', rootless: false} as const

describe('buildContainerSpec (shared/reference/sandbox.md §1 and its traps)', () => {
  it('hardens the container the same way on both engines', () => {
    for (const engine of [DOCKER, ROOTLESS_PODMAN, ROOTFUL_PODMAN]) {
      const {HostConfig} = buildContainerSpec(spec, engine)
      expect(HostConfig).toMatchObject({
        Privileged: false,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        ReadonlyRootfs: true,
        NetworkMode: 'none',
        IpcMode: 'private',
        PidsLimit: 512,
        Memory: 2 * 1024 ** 3,
        MemorySwap: 2 * 1024 ** 3,
        NanoCpus: 2e9,
        Mounts: [{Type: 'bind', Source: '/home/me/src/untrusted', Target: '/src', ReadOnly: true}],
      })
      // An empty list would remove Docker's default /proc and /sys masks (trap 4).
      expect(HostConfig).not.toHaveProperty('MaskedPaths')
      expect(HostConfig).not.toHaveProperty('ReadonlyPaths')
      // Docker adds noexec to a tmpfs unless exec is stated (trap 5).
      for (const options of Object.values(HostConfig!.Tmpfs!)) expect(options).toMatch(/(^|,)(no)?exec,/)
    }
  })

  it('bounds every writable place, including the /run and /var/tmp Podman would mount unbounded', () => {
    for (const engine of [DOCKER, ROOTLESS_PODMAN]) {
      const tmpfs = buildContainerSpec(spec, engine).HostConfig!.Tmpfs!
      expect(Object.keys(tmpfs).sort()).toEqual(['/run', '/tmp', '/var/tmp', '/workspace'])
      for (const options of Object.values(tmpfs)) expect(options).toMatch(/(^|,)size=\d+[km]?(,|$)/)
    }
  })

  it('runs as the invoking user on rootful Podman, which refuses keep-id, with limits it can set without CAP_SYS_RESOURCE', () => {
    const body = buildContainerSpec(spec, ROOTFUL_PODMAN)
    expect(body.User).toBe('1000:1000')
    expect(body.HostConfig).not.toHaveProperty('UsernsMode')
    expect(body.HostConfig?.Ulimits).toEqual([
      {Name: 'nofile', Soft: 4096, Hard: 4096},
      {Name: 'nproc', Soft: 4096, Hard: 4096},
    ])
    expect(buildContainerSpec({...spec, network: true}, ROOTFUL_PODMAN).HostConfig?.NetworkMode).toBe('bridge')
    // Docker and rootless Podman keep the engine's own limits.
    expect(buildContainerSpec(spec, DOCKER).HostConfig).not.toHaveProperty('Ulimits')
    expect(buildContainerSpec(spec, ROOTLESS_PODMAN).HostConfig).not.toHaveProperty('Ulimits')
  })

  it('labels the container with the secure process it belongs to', () => {
    expect(buildContainerSpec(spec, DOCKER).Labels).toEqual({'dev.secure.run': 'laptop/4242/123456'})
  })

  it('gives a run from a terminal a terminal of the same size, sized before the command starts', () => {
    const body = buildContainerSpec({...spec, terminal: {rows: 30, columns: 100}}, DOCKER)
    expect(body.Tty).toBe(true)
    expect(body.Cmd!.slice(3, 6)).toEqual(['secure-run', '30', '100'])
    expect(buildContainerSpec(spec, DOCKER).Cmd!.slice(3, 6)).toEqual(['secure-run', '0', '0'])
  })

  it('runs as the invoking user on Docker and with keep-id only on Podman (Docker ignores keep-id: trap 3)', () => {
    expect(buildContainerSpec(spec, DOCKER)).toMatchObject({User: '1000:1000'})
    expect(buildContainerSpec(spec, DOCKER).HostConfig).not.toHaveProperty('UsernsMode')
    expect(buildContainerSpec(spec, ROOTLESS_PODMAN).User).toBeUndefined()
    expect(buildContainerSpec(spec, ROOTLESS_PODMAN).HostConfig).toMatchObject({UsernsMode: 'keep-id'})
  })

  it('lets Docker remove the container, but not Podman, whose wait() then misreports exit codes', () => {
    expect(buildContainerSpec(spec, DOCKER).HostConfig).toMatchObject({AutoRemove: true})
    expect(buildContainerSpec(spec, ROOTLESS_PODMAN).HostConfig).toMatchObject({AutoRemove: false})
  })

  it('never runs as root, even when root invokes it', () => {
    expect(buildContainerSpec({...spec, uid: 0, gid: 0}, DOCKER).User).toBe('65534:65534')
  })

  it('gives the command only the environment it is given, and hands exclusions and command over as separate arguments', () => {
    const body = buildContainerSpec({...spec, exclusions: ['./node_modules', './a $(b)']}, DOCKER)
    expect(body.Env).toEqual(['HOME=/tmp', 'TERM=xterm'])
    expect(body.Cmd).toEqual(['sh', '-c', expect.stringContaining('exec "$@"'), 'secure-run', '0', '0', '2', './node_modules', './a $(b)', '0', 'npm', 'test'])
  })

  it('gives a networked run the host CA bundle, read-only, and points tools at it', () => {
    const body = buildContainerSpec({...spec, network: true, caBundle: '/etc/ssl/certs/ca-certificates.crt'}, ROOTLESS_PODMAN)
    expect(body.HostConfig?.Mounts).toContainEqual({Type: 'bind', Source: '/etc/ssl/certs/ca-certificates.crt', Target: '/etc/secure-host-ca.crt', ReadOnly: true})
    expect(body.Env).toEqual(expect.arrayContaining(['NODE_EXTRA_CA_CERTS=/etc/secure-host-ca.crt', 'SSL_CERT_FILE=/etc/secure-host-ca.crt']))
    // Rootless Podman reaches the network through slirp4netns; Docker through its bridge.
    expect(body.HostConfig?.NetworkMode).toBe('slirp4netns')
    expect(buildContainerSpec({...spec, network: true, caBundle: undefined}, DOCKER).HostConfig?.NetworkMode).toBe('bridge')
  })
})
