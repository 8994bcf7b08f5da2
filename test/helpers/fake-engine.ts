import {mkdir} from 'node:fs/promises'
import {createServer} from 'node:http'
import {join} from 'node:path'
import {onTestFinished} from 'vitest'

/** A stand-in engine on a real Unix socket, answering as rootless Podman 4.3.1 does (sandbox.md §3.2). */
export async function givenPodmanLikeEngine(directory: string): Promise<string> {
  return serveEngine(join(directory, 'podman.sock'), 'Libpod/4.3.1 (linux)', {
    '/version': {Version: '4.3.1', ApiVersion: '1.41', Arch: 'amd64', Components: [{Name: 'Podman Engine', Version: '4.3.1'}]},
    '/info': {SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true},
    '/v4.0.0/libpod/info': {
      host: {arch: 'amd64', security: {rootless: true}, cgroupVersion: 'v2', cgroupControllers: ['memory', 'pids']},
      store: {graphDriverName: 'overlay'},
      version: {Version: '4.3.1'},
    },
  })
}

/** A stand-in engine answering as rootful Docker 20.10 does: no libpod API (sandbox.md §3.2). */
export async function givenDockerLikeEngine(directory: string): Promise<string> {
  return serveEngine(join(directory, 'docker.sock'), 'Docker/20.10.24 (linux)', {
    '/version': {Version: '20.10.24', ApiVersion: '1.41', Arch: 'arm64', Components: [{Name: 'Engine', Version: '20.10.24'}]},
    '/info': {SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', MemoryLimit: true, PidsLimit: true, Driver: 'overlay2'},
  })
}

async function serveEngine(socketPath: string, server: string, answers: Record<string, unknown>): Promise<string> {
  await mkdir(join(socketPath, '..'), {recursive: true})
  const engine = createServer((request, response) => {
    const path = request.url!.split('?')[0]!
    response.setHeader('Api-Version', '1.41')
    response.setHeader('Server', server)
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
  await new Promise<void>((resolve) => engine.listen(socketPath, resolve))
  onTestFinished(() => new Promise<void>((resolve) => engine.close(() => resolve())))
  return socketPath
}
