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
  /** The terminal the command gets, sized as the user's, when run from one. */
  terminal: {rows: number; columns: number} | undefined
  /**
   * --out: after the command, these workspace paths are packed into `<index>.tar` in this fresh host
   * directory (mounted at /out), from which secure copies regular files into the checkout. The
   * workspace is a tmpfs, gone when the container stops, so the results must leave before.
   */
  out: {paths: readonly string[]; directory: string} | undefined
  /** The `secure` process the container belongs to (container-owner.ts), as its label says. */
  owner: string
}

/** The label that marks secure's containers; its value names the process that owns one. */
export const OWNER_LABEL = 'dev.secure.run'

/** Where a networked run finds the host's CA bundle, and the variables that point tools at it. */
const CA_BUNDLE_TARGET = '/etc/secure-host-ca.crt'
const CA_BUNDLE_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'PIP_CERT', 'GIT_SSL_CAINFO']

/** Where a --out run's results are packed, in a fresh host directory. */
const OUT_MOUNT = '/out'

/** How many unreadable paths the copy's warning names; it counts the rest. */
const UNREADABLE_NAMED = 10

/**
 * Sizes the command's terminal, copies the read-only repository into the workspace, leaving out
 * the excluded paths, then runs the command there. Its arguments: the terminal's rows and columns
 * (0 0 without one), the number of exclusions, the exclusions, the number of --out paths, those
 * paths, the command. The terminal is sized here, before the command starts, because a resize
 * through the engine can only follow the start, and a quick command would see a 0x0 terminal.
 * Names reach tar through files, one per line, never through a shell's parsing.
 *
 * What the container's user cannot read (another user's 0600 file; root's, when root runs secure
 * and the sandbox runs as nobody) is left out and named in one warning: it could not be copied
 * anyway, and a file kept from others is likely a secret. GNU tar, in the C locale, names each such
 * path in a warning of its own. Any other failure of the copy stops the run with exit code 125 (the
 * code `docker run` uses for its own failures), so a suite that never ran is not mistaken for one
 * that passed or failed; a repository the user cannot read at all is said so in one line.
 */
const WORKSPACE_SCRIPT = String.raw`
[ "$1" = 0 ] || stty rows "$1" cols "$2" 2>/dev/null; shift 2
n=$1; shift; while [ "$n" -gt 0 ]; do printf '%s\n' "$1"; shift; n=$((n - 1)); done > /tmp/.secure-exclude
n=$1; shift; while [ "$n" -gt 0 ]; do printf '%s\n' "$1"; shift; n=$((n - 1)); done > /tmp/.secure-out
mkdir ${WORKSPACE_COPY}
[ -r ${SOURCE_MOUNT} ] && [ -x ${SOURCE_MOUNT} ] || { echo "secure: the sandbox's user (uid $(id -u)) cannot read the repository's directory; let it in (chmod o+rx on that directory)" >&2; exit 125; }
{ LC_ALL=C tar -C ${SOURCE_MOUNT} --anchored --no-wildcards -X /tmp/.secure-exclude --ignore-failed-read -cf - . 2>/tmp/.secure-copy-errors; echo $? > /tmp/.secure-copy-status; } | tar -C ${WORKSPACE_COPY} -xpf - && read copied < /tmp/.secure-copy-status && [ "$copied" = 0 ] || { cat /tmp/.secure-copy-errors >&2; echo "secure: copying the repository into the sandbox failed" >&2; exit 125; }
if [ -s /tmp/.secure-copy-errors ]; then
  unreadable='^tar: \./\(.*\): Warning: Cannot [a-z]*: Permission denied$'
  grep -v "$unreadable" /tmp/.secure-copy-errors >&2
  sed -n "s|$unreadable|\1|p" /tmp/.secure-copy-errors | sort > /tmp/.secure-unreadable
  if [ -s /tmp/.secure-unreadable ]; then
    count=$(wc -l < /tmp/.secure-unreadable)
    names=$(head -n ${UNREADABLE_NAMED} /tmp/.secure-unreadable | tr '\n' '\t' | sed 's/\t$//; s/\t/, /g')
    [ "$count" -le ${UNREADABLE_NAMED} ] || names="$names and $((count - ${UNREADABLE_NAMED})) more"
    echo "secure: warning: not copied into the sandbox, as its user cannot read them (.secureignore them to silence this): $names" >&2
  fi
fi
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

/**
 * Whether the engine removes the container itself when it stops: Docker does, so even a killed
 * `secure` leaves none behind. Not Podman 4.3: there, wait() then sometimes reports exit code 0
 * for a command that failed (measured here), and a failing suite must never look green. Podman's
 * containers are removed by secure itself, and those of a killed secure by the next run
 * (container-owner.ts).
 */
export function engineRemovesContainer(facts: Pick<EngineFacts, 'kind'>): boolean {
  return facts.kind === 'docker'
}

/** An unprivileged id for a container started by root: the invoking uid would be root inside. */
const NOBODY = 65_534

/**
 * A read-only container gets tmpfs mounts on /run and /var/tmp from Podman, unbounded (half the
 * host's memory each, and nothing else bounds them where limits are not enforced); mounts of its
 * own there take their place (measured on Podman 4.3.1). Docker gets them too, so the command
 * sees the same writable places on both engines.
 */
const SCRATCH_TMPFS = {
  '/tmp': 'rw,exec,nosuid,nodev,size=512m',
  '/var/tmp': 'rw,exec,nosuid,nodev,size=256m',
  '/run': 'rw,noexec,nosuid,nodev,size=16m',
}

/**
 * Rootful Podman sets nofile and nproc to 1048576 in every container unless told otherwise, and
 * the container then fails to start ("error setting rlimit type 7: operation not permitted")
 * where root lacks CAP_SYS_RESOURCE: inside another container or a restricted VM (measured here).
 * Lowering a limit needs no privilege, and these are at or below the hard limits engines run with
 * (the kernel's own default for nofile is 4096). Docker, and rootless Podman, which lowers its
 * defaults to the service's own limits, keep the engine's limits.
 */
const ROOTFUL_PODMAN_ULIMITS = [
  {Name: 'nofile', Soft: 4096, Hard: 4096},
  {Name: 'nproc', Soft: 4096, Hard: 4096},
]

/**
 * The create body for the engine's API, hardened as shared/reference/sandbox.md §1 verified on
 * rootful Docker, rootless Docker and rootless Podman (rootful Podman tested since), with its traps
 * avoided: `keep-id` only for rootless Podman (Docker ignores it, rootful Podman refuses it), no
 * MaskedPaths/ReadonlyPaths keys at all (an empty list removes Docker's default masks), `exec` or
 * `noexec` stated on every tmpfs (Docker adds noexec otherwise).
 */
export function buildContainerSpec(spec: SandboxSpec, facts: Pick<EngineFacts, 'kind' | 'rootless'>): Dockerode.ContainerCreateOptions {
  const podman = facts.kind === 'podman'
  // Rootful Podman refuses keep-id ("only supported in rootless mode"): there, as on Docker, the
  // container runs as the invoking user.
  const keepId = podman && facts.rootless
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
    Cmd: [
      ...['sh', '-c', WORKSPACE_SCRIPT, 'secure-run', String(spec.terminal?.rows ?? 0), String(spec.terminal?.columns ?? 0)],
      ...[String(spec.exclusions.length), ...spec.exclusions, String(outPaths.length), ...outPaths, ...spec.command],
    ],
    WorkingDir: WORKSPACE,
    Env: Object.entries({HOME: '/tmp', ...caVariables, ...spec.environment}).map(([name, value]) => `${name}=${value}`),
    // Docker and rootful Podman run as the invoking user; rootless Podman maps it with keep-id.
    User: keepId ? undefined : `${uid}:${gid}`,
    Labels: {[OWNER_LABEL]: spec.owner},
    Tty: spec.terminal !== undefined,
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
        ...SCRATCH_TMPFS,
        // Docker needs the owner set for a non-root user. Podman refuses uid= ("unknown mount
        // option"), and under keep-id its user is the engine user's, which only Podman knows: its
        // tmpfs comes up world-writable (sandbox.md §4.1), with the copy in a directory of the user's.
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
      NetworkMode: spec.network ? (keepId ? 'slirp4netns' : 'bridge') : 'none',
      IpcMode: 'private',
      Init: spec.init,
      AutoRemove: engineRemovesContainer(facts),
      ...(keepId ? {UsernsMode: 'keep-id'} : {}),
      ...(podman && !facts.rootless ? {Ulimits: ROOTFUL_PODMAN_ULIMITS} : {}),
    },
  }
}
