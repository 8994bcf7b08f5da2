import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {onTestFinished} from 'vitest'

/** A registry API stand-in: JSON documents at paths, which the test may change between requests. */
export interface JsonRegistry {
  /** `http://127.0.0.1:PORT/`, with the trailing slash registries are named with. */
  url: string
  /** The document served at `path` (`/name`, `/-/npm/v1/attestations/name@1.0.0`); 404 where none. */
  documents: Map<string, unknown>
  /** Every path requested so far, in order. */
  requests: string[]
}

/** Starts a JSON stub on 127.0.0.1, closed after the test. */
export async function startJsonRegistry(documents: Record<string, unknown> = {}): Promise<JsonRegistry> {
  const registry = {documents: new Map(Object.entries(documents)), requests: [] as string[]}
  const server = createServer((request, response) => {
    const path = request.url ?? '/'
    registry.requests.push(path)
    const document = registry.documents.get(path)
    if (document === undefined) response.writeHead(404, {'content-type': 'application/json'}).end('{"error":"not found"}')
    else response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(document))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return {...registry, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`}
}
