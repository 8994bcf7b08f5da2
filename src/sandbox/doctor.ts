import {SecureError} from '../errors.js'
import {type EngineDiscoveryInputs, describeEndpoint, listEngineCandidates} from './engine-candidates.js'
import {connectToEngine} from './engine-connection.js'
import {describeIsolation} from './engine-facts.js'

/** What `secure sandbox doctor` found, as lines for a person. */
export interface SandboxDiagnosis {
  /** An engine answered. */
  engineFound: boolean
  lines: string[]
}

const GET_ROOTLESS_PODMAN = [
  'to get rootless Podman (recommended): install podman, uidmap and slirp4netns (Debian/Ubuntu: sudo apt install podman uidmap slirp4netns),',
  '  give your user subordinate ids if it has none (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER),',
  '  then start its API: systemctl --user enable --now podman.socket, or podman system service --time=0 &',
  'or rootless Docker: dockerd-rootless-setuptool.sh install (https://docs.docker.com/engine/security/rootless/)',
]

/**
 * `secure sandbox doctor`: which engines are on this machine, which one `secure run` would use,
 * what isolation it really gives, and how to get a rootless one when there is none.
 */
export async function diagnoseSandbox(inputs: EngineDiscoveryInputs): Promise<SandboxDiagnosis> {
  const candidates = await listEngineCandidates(inputs)
  const lines = candidates.map((candidate) => `found      ${candidate.source}: ${describeEndpoint(candidate.endpoint)}`)
  try {
    const engine = await connectToEngine(candidates)
    lines.push(`uses       ${engine.candidate.source}`, describeIsolation(engine.facts, describeEndpoint(engine.candidate.endpoint)).replace(/^secure: isolation: /, 'isolation  '))
    if (!engine.facts.rootless) lines.push('advice     a rootful engine\'s container escape is root on this host; prefer a rootless one:', ...GET_ROOTLESS_PODMAN.map((line) => `           ${line}`))
    if (!engine.facts.limitsEnforced) lines.push('advice     for enforced limits, use cgroup v2 with the memory and pids controllers delegated to your user (systemd does this for user sessions)')
    return {engineFound: true, lines}
  } catch (error) {
    if (!(error instanceof SecureError)) throw error
    lines.push(`problem    ${error.message}`)
    if (error.code === 'ENGINE_MISSING') lines.push(...GET_ROOTLESS_PODMAN.map((line) => `           ${line}`))
    else if (error.hint) lines.push(`hint       ${error.hint}`)
    return {engineFound: false, lines}
  }
}
