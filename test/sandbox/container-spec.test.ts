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
  tty: false,
  out: undefined,
  runId: 'abc',
}

describe('buildContainerSpec (shared/reference/sandbox.md §1 and its traps)', () => {
  it('hardens the container the same way on both engines', () => {
    for (const kind of ['docker', 'podman'] as const) {
      const {HostConfig} = buildContainerSpec(spec, {kind})
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
      for (const options of Object.values(HostConfig!.Tmpfs!)) expect(options).toMatch(/(^|,)exec,/)
    }
  })

  it('runs as the invoking user on Docker and with keep-id only on Podman (Docker ignores keep-id: trap 3)', () => {
    expect(buildContainerSpec(spec, {kind: 'docker'})).toMatchObject({User: '1000:1000'})
    expect(buildContainerSpec(spec, {kind: 'docker'}).HostConfig).not.toHaveProperty('UsernsMode')
    expect(buildContainerSpec(spec, {kind: 'podman'}).User).toBeUndefined()
    expect(buildContainerSpec(spec, {kind: 'podman'}).HostConfig).toMatchObject({UsernsMode: 'keep-id'})
  })

  it('lets Docker remove the container, but not Podman, whose wait() then misreports exit codes', () => {
    expect(buildContainerSpec(spec, {kind: 'docker'}).HostConfig).toMatchObject({AutoRemove: true})
    expect(buildContainerSpec(spec, {kind: 'podman'}).HostConfig).toMatchObject({AutoRemove: false})
  })

  it('never runs as root, even when root invokes it', () => {
    expect(buildContainerSpec({...spec, uid: 0, gid: 0}, {kind: 'docker'}).User).toBe('65534:65534')
  })

  it('gives the command only the environment it is given, and hands exclusions and command over as separate arguments', () => {
    const body = buildContainerSpec({...spec, exclusions: ['./node_modules', './a $(b)']}, {kind: 'docker'})
    expect(body.Env).toEqual(['HOME=/tmp', 'TERM=xterm'])
    expect(body.Cmd).toEqual(['sh', '-c', expect.stringContaining('exec "$@"'), 'secure-run', '2', './node_modules', './a $(b)', '0', 'npm', 'test'])
  })

  it('gives a networked run the host CA bundle, read-only, and points tools at it', () => {
    const body = buildContainerSpec({...spec, network: true, caBundle: '/etc/ssl/certs/ca-certificates.crt'}, {kind: 'podman'})
    expect(body.HostConfig?.Mounts).toContainEqual({Type: 'bind', Source: '/etc/ssl/certs/ca-certificates.crt', Target: '/etc/secure-host-ca.crt', ReadOnly: true})
    expect(body.Env).toEqual(expect.arrayContaining(['NODE_EXTRA_CA_CERTS=/etc/secure-host-ca.crt', 'SSL_CERT_FILE=/etc/secure-host-ca.crt']))
    // Rootless Podman reaches the network through slirp4netns; Docker through its bridge.
    expect(body.HostConfig?.NetworkMode).toBe('slirp4netns')
    expect(buildContainerSpec({...spec, network: true, caBundle: undefined}, {kind: 'docker'}).HostConfig?.NetworkMode).toBe('bridge')
  })
})
