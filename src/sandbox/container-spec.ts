import type Dockerode from 'dockerode'

import {type EngineFacts} from './engine-facts.js'

/** Where the repository is mounted read-only, and where its throwaway copy lives. */
export const SOURCE_MOUNT = '/src'
export const WORKSPACE = '/workspace'
/**
 * The copy itself: a directory the container's user creates, because under Podman's keep-id the
 * tmpfs root is not its own, and `cp -a` into it fails setting the root's times.
 */
export const WORKSPACE_COPY = `${WORKSPACE}/repo`

/** The host variables a sandbox may see besides what the user passes with --env (issue 3). */
export const ENVIRONMENT_ALLOW_LIST = ['TERM', 'LANG', 'TZ', 'CI'] as const

/** What one `secure run` container is. */
export interface SandboxSpec {
  image: string
  /** The command, run in the throwaway copy of the repository. */
  command: readonly string[]
  /** The repository on the host, mounted read-only. */
  repository: string
  /** Exactly the variables the container gets. */
  environment: Readonly<Record<string, string>>
  /** The invoking user's ids (Docker runs the container as them; never root). */
  uid: number
  gid: number
  network: boolean
  limits: {memoryBytes: number; pids: number; cpus: number; workspaceBytes: number}
  /** Podman without catatonit answers HTTP 500 to Init (sandbox.md trap 1). */
  init: boolean
  tty: boolean
  runId: string
}

/** An unprivileged id for a container started by root: the invoking uid would be root inside. */
const NOBODY = 65_534

/**
 * The create body for the engine's API, hardened as shared/reference/sandbox.md §1 verified on
 * rootful Docker, rootless Docker and rootless Podman, with its traps avoided: `keep-id` only for
 * Podman (Docker ignores it), no MaskedPaths/ReadonlyPaths keys at all (an empty list removes
 * Docker's default masks), `exec` stated on every tmpfs (Docker adds noexec otherwise).
 */
export function buildContainerSpec(spec: SandboxSpec, facts: Pick<EngineFacts, 'kind'>): Dockerode.ContainerCreateOptions {
  const podman = facts.kind === 'podman'
  const uid = spec.uid === 0 ? NOBODY : spec.uid
  const gid = spec.uid === 0 ? NOBODY : spec.gid
  // The copy is made inside the container, so nothing the suite writes can reach the checkout.
  const script = `cp -a ${SOURCE_MOUNT} ${WORKSPACE_COPY} && cd ${WORKSPACE_COPY} && exec "$@"`
  return {
    Image: spec.image,
    Cmd: ['sh', '-c', script, 'secure-run', ...spec.command],
    WorkingDir: WORKSPACE,
    Env: Object.entries({HOME: '/tmp', ...spec.environment}).map(([name, value]) => `${name}=${value}`),
    // Docker runs as the invoking user; rootless Podman maps the invoking user with keep-id.
    User: podman ? undefined : `${uid}:${gid}`,
    Labels: {'dev.secure.run': spec.runId},
    Tty: spec.tty,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: !spec.network,
    HostConfig: {
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: {
        '/tmp': 'rw,exec,nosuid,nodev,size=512m',
        // Docker needs the owner set for a non-root user; under keep-id Podman's user is the engine
        // user's, which only Podman knows, and its tmpfs comes up world-writable (sandbox.md §4.1).
        [WORKSPACE]: `rw,exec,nosuid,nodev,size=${spec.limits.workspaceBytes},${podman ? 'mode=1777' : `uid=${uid},gid=${gid},mode=0700`}`,
      },
      Mounts: [{Type: 'bind', Source: spec.repository, Target: SOURCE_MOUNT, ReadOnly: true}],
      PidsLimit: spec.limits.pids,
      Memory: spec.limits.memoryBytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: Math.round(spec.limits.cpus * 1e9),
      NetworkMode: spec.network ? 'bridge' : 'none',
      IpcMode: 'private',
      Init: spec.init,
      // Docker removes the container when it stops, so even a killed `secure` leaves none behind.
      // Not on Podman 4.3: there, wait() then sometimes reports exit code 0 for a command that
      // failed (measured here) — a failing suite must never look green. Podman's containers are
      // removed by secure itself, and stale ones by the next run (run-sandbox.ts).
      AutoRemove: !podman,
      ...(podman ? {UsernsMode: 'keep-id'} : {}),
    },
  }
}
