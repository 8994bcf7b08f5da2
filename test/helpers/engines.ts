import {execFileSync} from 'node:child_process'
import {chmod, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {opDoubleCommand} from './op-double.js'
import {givenCliWorkspace} from './cli.js'

const NETWORK_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy']

/**
 * How this machine reaches the npm registry (a TLS-intercepting proxy here), as the user's shell has
 * it: building the Node image fetches Node.js through npm.
 */
export function hostNetworkEnvironment(): Record<string, string> {
  return Object.fromEntries(NETWORK_VARIABLES.filter((name) => process.env[name]).map((name) => [name, process.env[name]!]))
}

/** A container engine the sandbox tests run on. */
export interface TestEngine {
  name: 'Docker' | 'rootless Podman' | 'rootful Podman'
  url: string
}

/** The engines CI must have (scripts/setup-engines starts both). */
export const REQUIRED_ENGINES = ['Docker', 'rootless Podman']

/** The Debian base scripts/setup-engines imports into both engines: no registry is reachable. */
export const TEST_BASE_IMAGE = 'secure-base:bookworm'

/**
 * The engines this machine has: rootful Docker, rootless Podman served for another user (the one
 * scripts/setup-engines makes), and rootful Podman if it is served. CI must have the first two; a
 * developer machine runs what it has.
 */
export async function findEngines(): Promise<TestEngine[]> {
  const engines: TestEngine[] = []
  const isSocket = async (path: string) => (await stat(path).catch(() => undefined))?.isSocket() ?? false
  if (await isSocket('/var/run/docker.sock')) engines.push({name: 'Docker', url: 'unix:///var/run/docker.sock'})
  // The Podman of scripts/setup-engines' user, else this user's own: not any other user's.
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  const setupUid = /^secure-podman:[^:]*:(\d+):/m.exec(passwd)?.[1]
  const runtimeDirectory = setupUid ? `/run/user/${setupUid}` : process.env.XDG_RUNTIME_DIR
  const socket = runtimeDirectory && `${runtimeDirectory}/podman/podman.sock`
  if (socket && (await isSocket(socket))) engines.push({name: 'rootless Podman', url: `unix://${socket}`})
  // Rootful Podman where the machine serves it (systemctl enable --now podman.socket); CI needn't.
  if (await isSocket('/run/podman/podman.sock')) engines.push({name: 'rootful Podman', url: 'unix:///run/podman/podman.sock'})
  return engines
}

/**
 * A maintainer's machine (see givenCliWorkspace) whose config builds secure's images on the test
 * base image, with a git repository that the engine's user can read (rootless Podman runs as
 * another user here), and a shell holding credentials.
 */
export async function givenSandboxWorkspace(engine: TestEngine) {
  const workspace = await givenCliWorkspace({
    config: `[onepassword]\nprovider = "op"\nop_path = "${opDoubleCommand}"\n\n[sandbox]\nbase_image = "${TEST_BASE_IMAGE}"\n`,
  })
  await chmod(workspace.root, 0o755)
  for (const directory of [workspace.home, join(workspace.home, 'src'), workspace.repository]) await chmod(directory, 0o755)
  execFileSync('git', ['init', '-q', workspace.repository])
  const network = hostNetworkEnvironment()
  const runSandboxed = (args: readonly string[], env: Record<string, string> = {}) =>
    workspace.run(['run', '--engine', engine.url, ...args], {
      env: {...network, TERM: 'xterm-test', NPM_TOKEN: 'npm_hostTokenThatMustNotLeak00', SSH_AUTH_SOCK: '/tmp/agent.sock', ...env},
    })
  return {...workspace, runSandboxed}
}
