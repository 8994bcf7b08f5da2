import {mkdir} from 'node:fs/promises'
import {createServer} from 'node:http'
import {join} from 'node:path'
import {onTestFinished} from 'vitest'

/** A stand-in engine on a real Unix socket, answering as rootless Podman 4.3.1 does (sandbox.md §3.2). */
export async function givenPodmanLikeEngine(directory: string): Promise<string> {
  await mkdir(directory, {recursive: true})
  const socketPath = join(directory, 'podman.sock')
  const answers: Record<string, unknown> = {
    '/version': {Version: '4.3.1', ApiVersion: '1.41', Arch: 'amd64', Components: [{Name: 'Podman Engine', Version: '4.3.1'}]},
    '/info': {SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true},
    '/v4.0.0/libpod/info': {host: {security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['memory', 'pids']}, store: {graphDriverName: 'overlay'}},
  }
  const server = createServer((request, response) => {
    const path = request.url!.split('?')[0]!
    response.setHeader('Api-Version', '1.41')
    response.setHeader('Server', 'Libpod/4.3.1 (linux)')
    if (path === '/_ping') {
      response.end('OK')
    } else if (path in answers) {
      response.setHeader('Content-Type', 'application/json')
      response.end(JSON.stringify(answers[path]))
    } else {
      response.statusCode = 404
      response.end('{"message":"page not found"}')
    }
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return socketPath
}

