import {readFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import type Dockerode from 'dockerode'

import {OWNER_LABEL} from './container-spec.js'

/**
 * The `secure` process a container belongs to, as `host/pid/start` for its label. The start time
 * (Linux: clock ticks since boot, from /proc) tells the process from a later one given the same pid;
 * where there is no /proc it is left empty, and only the pid counts.
 */
export async function describeOwner(pid: number = process.pid): Promise<string> {
  return `${hostname()}/${pid}/${(await readStartTime(pid)) ?? ''}`
}

/**
 * Whether the process a container's label names is gone, so that nothing will start, read or
 * remove that container any more. Processes of another host cannot be seen, and a label of another
 * shape is not secure's to judge: neither is ever taken for gone.
 */
export async function isOwnerGone(owner: string, thisHost: string = hostname()): Promise<boolean> {
  const match = /^(.+)\/(\d+)\/(\d*)$/.exec(owner)
  if (!match || match[1] !== thisHost) return false
  const pid = Number(match[2])
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: the process exists, but is another user's.
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
  const startTime = await readStartTime(pid)
  return match[3] !== '' && startTime !== undefined && startTime !== match[3]
}

/**
 * Removes the containers of `secure` processes that are gone: on Podman a run that was killed
 * leaves its container behind (no AutoRemove there, see container-spec.ts), and on either engine
 * its command may still be running with nobody to read it. A container of a live run is never
 * touched, even between its create and its start.
 */
export async function removeContainersOfGoneOwners(docker: Dockerode): Promise<void> {
  const containers = await docker.listContainers({all: true, filters: {label: [OWNER_LABEL]}})
  await Promise.all(
    containers.map(async (container) => {
      if (await isOwnerGone(container.Labels[OWNER_LABEL] ?? '')) await docker.getContainer(container.Id).remove({force: true}).catch(() => {})
    }),
  )
}

/** Field 22 of /proc/PID/stat, counted after the command name, which may hold spaces and parentheses. */
async function readStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}
