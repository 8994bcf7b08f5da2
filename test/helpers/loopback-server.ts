import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * An HTTP server on 127.0.0.1 (a free port) for a registry stub; a handler that throws answers 500.
 * close() ends open connections too, so a test never waits on a keep-alive socket.
 */
export async function listenOnLoopback(handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<{url: string; close(): Promise<void>}> {
  const server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => sendJson(response, 500, {error: `the test registry failed: ${String(error)}`}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export async function readRequestBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(json)}).end(json)
}
