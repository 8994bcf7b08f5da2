import {once} from 'node:events'
import {createRequire} from 'node:module'
import {PassThrough} from 'node:stream'
import {describe, expect, it} from 'vitest'

import {loadDockerode} from '../../src/sandbox/load-dockerode.js'

const require = createRequire(import.meta.url)
const fromDockerode = createRequire(require.resolve('dockerode'))

describe('loadDockerode', () => {
  it('loads dockerode without what a run on a local socket never uses', async () => {
    await loadDockerode()
    expect(require.cache[fromDockerode.resolve('docker-modem')]).toBeDefined()
    for (const deferred of ['ssh2', 'tar-stream', 'readable-stream']) expect(require.cache[fromDockerode.resolve(deferred)]).toBeUndefined()
  })

  it('loads each deferred module on its first use: read, called or constructed', async () => {
    await loadDockerode()
    expect(typeof (fromDockerode('tar-fs') as {pack: unknown}).pack).toBe('function')
    const HttpDuplex = fromDockerode('docker-modem/lib/http_duplex.js') as new (request: unknown, response: PassThrough) => NodeJS.ReadWriteStream
    const response = new PassThrough()
    const duplex = new HttpDuplex({write: () => {}}, response)
    const chunks: Buffer[] = []
    duplex.on('data', (chunk: Buffer) => chunks.push(chunk))
    response.end('from the engine')
    await once(duplex, 'end')
    expect(Buffer.concat(chunks).toString()).toBe('from the engine')
  })
})
