import {Module, createRequire} from 'node:module'
import type Dockerode from 'dockerode'

const require = createRequire(import.meta.url)

/**
 * Loads dockerode without the parts a `secure run` on a local socket never uses: its BuildKit
 * session (gRPC and protobuf, ~60 ms to load), docker-modem's SSH transport (ssh2, ~25 ms), the
 * tar-fs that packs a build context from a directory (~15 ms; secure hands its builds a stream),
 * and the duplex docker-modem wraps an attach in when the engine does not switch protocols (with
 * its readable-stream, ~8 ms). Each is replaced in the module cache by a stand-in that loads the
 * real module the first time it is called, constructed or one of its exports read, so ssh://
 * engines, builds and such engines still work. None is touched while dockerode loads. If a package
 * moves its files, the stand-in is simply not installed and everything loads as before.
 */
export async function loadDockerode(): Promise<typeof Dockerode> {
  const dockerode = require.resolve('dockerode')
  deferModule('dockerode/lib/session.js')
  deferModule('docker-modem/lib/ssh.js', dockerode)
  deferModule('tar-fs', dockerode)
  deferModule('docker-modem/lib/http_duplex.js', dockerode)
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
  let real: object | undefined
  const standIn = new Module(path)
  const load = () => {
    if (!real) {
      delete require.cache[path]
      real = require(path) as object
    }
    return real
  }
  standIn.filename = path
  // A function target, so that the stand-in can be called and constructed (its `prototype` is
  // writable, so the proxy may report the real one).
  standIn.exports = new Proxy(function deferred() {}, {
    apply: (_target, thisArgument, args) => Reflect.apply(load() as (...args: unknown[]) => unknown, thisArgument, args),
    construct: (_target, args) => Reflect.construct(load() as new (...args: unknown[]) => object, args),
    get: (_target, key) => Reflect.get(load(), key),
  })
  standIn.loaded = true
  require.cache[path] = standIn
}
