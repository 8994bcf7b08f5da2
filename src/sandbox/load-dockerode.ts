import {Module, createRequire} from 'node:module'
import type Dockerode from 'dockerode'

const require = createRequire(import.meta.url)

/**
 * Loads dockerode without the parts a `secure run` on a local socket never uses: its BuildKit
 * session (gRPC and protobuf, ~60 ms to load) and docker-modem's SSH transport (ssh2, ~25 ms).
 * Both modules export a single function; each is replaced in the module cache by a stand-in that
 * loads the real module on its first call, so ssh:// engines and BuildKit still work. If either
 * package moves its files, the stand-in is simply not installed and everything loads as before.
 */
export async function loadDockerode(): Promise<typeof Dockerode> {
  deferModule('dockerode/lib/session.js')
  deferModule('docker-modem/lib/ssh.js', require.resolve('dockerode'))
  return (await import('dockerode')).default
}

function deferModule(request: string, from?: string): void {
  let path: string
  try {
    path = from ? createRequire(from).resolve(request) : require.resolve(request)
  } catch {
    return
  }
  if (require.cache[path]) return
  let real: ((...args: unknown[]) => unknown) | undefined
  const standIn = new Module(path)
  const load = () => {
    if (!real) {
      delete require.cache[path]
      real = require(path) as (...args: unknown[]) => unknown
    }
    return real
  }
  standIn.filename = path
  standIn.exports = (...args: unknown[]) => load()(...args)
  standIn.loaded = true
  require.cache[path] = standIn
}
