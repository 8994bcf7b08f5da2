import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {diagnoseSandbox} from '../../src/sandbox/doctor.js'
import {engineDiscoveryInputs} from '../../src/sandbox/engine-candidates.js'
import {givenCliWorkspace} from '../helpers/cli.js'
import {givenPodmanLikeEngine} from '../helpers/fake-engine.js'
import {makeTempDir} from '../helpers/temp-dir.js'

describe('secure sandbox doctor', () => {
  it('names the engine it would use and the isolation it gives', async () => {
    const directory = await makeTempDir()
    await givenPodmanLikeEngine(join(directory, 'podman'))
    const diagnosis = await diagnoseSandbox(engineDiscoveryInputs({XDG_RUNTIME_DIR: directory}, directory, undefined, undefined))
    expect(diagnosis.engineFound).toBe(true)
    expect(diagnosis.lines).toContain('uses       rootless Podman')
    expect(diagnosis.lines).toContain(`isolation  Podman 4.3.1, rootless, limits enforced (unix://${join(directory, 'podman', 'podman.sock')})`)
  })

  it('explains how to get rootless Podman when there is no engine at all', async () => {
    const directory = await makeTempDir()
    const inputs = {...engineDiscoveryInputs({XDG_RUNTIME_DIR: directory}, directory, undefined, undefined), isSocket: async () => false}
    const diagnosis = await diagnoseSandbox(inputs)
    expect(diagnosis.engineFound).toBe(false)
    expect(diagnosis.lines[0]).toBe('problem    no container engine found')
    expect(diagnosis.lines.join('\n')).toContain('sudo apt install podman uidmap slirp4netns')
  })

  it('exits 69 when the engine given with --engine does not answer', async () => {
    const workspace = await givenCliWorkspace()
    const result = await workspace.run(['sandbox', 'doctor', '--engine', `unix://${join(workspace.root, 'none.sock')}`])
    expect(result.exitCode).toBe(69)
    expect(result.stdout).toContain(`problem    the container engine at --engine: unix://${join(workspace.root, 'none.sock')} does not answer (ENOENT)`)
  })
})
