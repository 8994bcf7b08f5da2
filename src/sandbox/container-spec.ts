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
  /** Paths the copy leaves out (`./node_modules`, as tar names them): see workspace-exclusions.ts. */
  exclusions: readonly string[]
  /** Exactly the variables the container gets. */
  environment: Readonly<Record<string, string>>
  /** The invoking user's ids (Docker runs the container as them; never root). */
  uid: number
  gid: number
  network: boolean
  /** The host's CA bundle, mounted read-only for a networked run (TLS-intercepting proxies). */
  caBundle: string | undefined
  limits: {memoryBytes: number; pids: number; cpus: number; workspaceBytes: number}
  /** Podman without catatonit answers HTTP 500 to Init (sandbox.md trap 1). */
  init: boolean
  tty: boolean
  /**
   * --out: after the command, these workspace paths are packed into `<index>.tar` in this fresh host
   * directory (mounted at /out), from which secure copies regular files into the checkout. The
   * workspace is a tmpfs, gone when the container stops, so the results must leave before.
   */
  out: {paths: readonly string[]; directory: string} | undefined
  runId: string
}

/** Where a networked run finds the host's CA bundle, and the variables that point tools at it. */
const CA_BUNDLE_TARGET = '/etc/secure-host-ca.crt'
const CA_BUNDLE_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'PIP_CERT', 'GIT_SSL_CAINFO']

/** Where a --out run's results are packed, in a fresh host directory. */
const OUT_MOUNT = '/out'

/**
 * Copies the read-only repository into the workspace, leaving out the excluded paths, then runs
 * the command there. Its arguments: the number of exclusions, the exclusions, the number of --out
 * paths, those paths, the command. Names reach tar through files, one per line, never through a
 * shell's parsing. A copy that fails stops the run with exit code 125 (the code `docker run` uses
 * for its own failures), so a suite that never ran is not mistaken for one that passed or failed.
 */
const WORKSPACE_SCRIPT = String.raw`
n=$1; shift; while [ "$n" -gt 0 ]; do printf '%s\n' "$1"; shift; n=$((n - 1)); done > /tmp/.secure-exclude
n=$1; shift; while [ "$n" -gt 0 ]; do printf '%s\n' "$1"; shift; n=$((n - 1)); done > /tmp/.secure-out
mkdir ${WORKSPACE_COPY}
tar -C ${SOURCE_MOUNT} --anchored --no-wildcards -X /tmp/.secure-exclude -cf - . | tar -C ${WORKSPACE_COPY} -xpf - || { echo "secure: copying the repository into the sandbox failed" >&2; exit 125; }
cd ${WORKSPACE_COPY}
[ -s /tmp/.secure-out ] || exec "$@"
# With --out the shell stays to pack the results once the command is done: it runs the command
# with the real stdin (an asynchronous command would get /dev/null) and passes signals on.
exec 3<&0
"$@" <&3 3<&- &
child=$!
for signal in INT TERM HUP QUIT; do trap "kill -$signal $child 2>/dev/null" $signal; done
wait $child; status=$?
while kill -0 $child 2>/dev/null; do wait $child; status=$?; done
i=0
while IFS= read -r path; do
  if [ -e "$path" ] || [ -L "$path" ]; then tar -C "$(dirname "$path")" -cf ${OUT_MOUNT}/$i.tar -- "$(basename "$path")"; fi
  i=$((i + 1))
done < /tmp/.secure-out
exit $status
`

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
  const caVariables = spec.caBundle ? Object.fromEntries(CA_BUNDLE_VARIABLES.map((name) => [name, CA_BUNDLE_TARGET])) : {}
  const mounts: Dockerode.MountSettings[] = [{Type: 'bind', Source: spec.repository, Target: SOURCE_MOUNT, ReadOnly: true}]
  if (spec.caBundle) mounts.push({Type: 'bind', Source: spec.caBundle, Target: CA_BUNDLE_TARGET, ReadOnly: true})
  if (spec.out) mounts.push({Type: 'bind', Source: spec.out.directory, Target: OUT_MOUNT, ReadOnly: false})
  const outPaths = spec.out?.paths ?? []
  return {
    Image: spec.image,
    // The copy is made inside the container, so nothing the suite writes can reach the checkout.
    Cmd: ['sh', '-c', WORKSPACE_SCRIPT, 'secure-run', String(spec.exclusions.length), ...spec.exclusions, String(outPaths.length), ...outPaths, ...spec.command],
    WorkingDir: WORKSPACE,
    Env: Object.entries({HOME: '/tmp', ...caVariables, ...spec.environment}).map(([name, value]) => `${name}=${value}`),
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
      Mounts: mounts,
      PidsLimit: spec.limits.pids,
      Memory: spec.limits.memoryBytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: Math.round(spec.limits.cpus * 1e9),
      // Rootless Podman 4 reaches the network through slirp4netns; its 'bridge' needs a rootless netns
      // the API service cannot always set up ("failed to mount runtime directory for rootless netns").
      NetworkMode: spec.network ? (podman ? 'slirp4netns' : 'bridge') : 'none',
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
