import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {hostname} from 'node:os'
import {describe, expect, it} from 'vitest'

import {describeOwner, isOwnerGone} from '../../src/sandbox/container-owner.js'

/** The pid of a process that has exited. */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await once(child, 'exit')
  return child.pid!
}

describe('the owner of a container', () => {
  it('is this process while it runs', async () => {
    const owner = await describeOwner()
    expect(owner).toMatch(new RegExp(`^${hostname()}/${process.pid}/\\d+$`))
    expect(await isOwnerGone(owner)).toBe(false)
  })

  it('is gone once its process has exited', async () => {
    expect(await isOwnerGone(`${hostname()}/${await exitedPid()}/12345`)).toBe(true)
  })

  it.runIf(process.platform === 'linux')('is gone when its pid now belongs to a later process (Linux: by its start time)', async () => {
    const [, , startTime] = (await describeOwner()).split('/')
    expect(await isOwnerGone(`${hostname()}/${process.pid}/${Number(startTime) - 1}`)).toBe(true)
  })

  it('is never taken for gone on another host, or from a label of another shape', async () => {
    expect(await isOwnerGone(`another-host/${await exitedPid()}/12345`)).toBe(false)
    expect(await isOwnerGone('3f2a9c01d4e5b6a7')).toBe(false)
    expect(await isOwnerGone('')).toBe(false)
  })
})
