import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type ServerResponse} from 'node:http'
import {execa} from 'execa'

import {listenOnLoopback, readRequestBody, sendJson} from './loopback-server.js'

/** One accepted upload: the metadata JSON as sent, and the crate's bytes and sha256. */
export interface CrateUpload {
  metadata: Record<string, unknown> & {name: string; vers: string}
  crate: Buffer
  checksum: string
}

export interface CratesRegistry {
  /** The web API's base, `http://127.0.0.1:PORT` (as cargo's `api` in a registry's config.json). */
  url: string
  /** The one token it accepts, as the whole Authorization header (cargo sends no scheme). */
  token: string
  uploads(): CrateUpload[]
  /** Every request's method, path and Authorization header. */
  requests(): Array<{method: string; path: string; authorization: string | undefined}>
  close(): Promise<void>
}

/**
 * A loopback stand-in for crates.io's web API (cargo book, registry-web-api; cargo's
 * crates/crates-io/lib.rs):
 *
 * - `PUT /api/v1/crates/new`: `Authorization: <token>`; the body is a u32-LE length, the metadata
 *   JSON (`NewCrate`), a u32-LE length and the `.crate`, with nothing before, between or after. The
 *   crate must be a gzipped tar under `<name>-<vers>/` whose Cargo.toml states that name and version
 *   (crates.io reads the manifest from the tarball too). Answers 200 `{"warnings": {...}}`, or an
 *   error status with `{"errors": [{"detail": "..."}]}`, the shape cargo reads.
 * - `GET /api/v1/crates/<name>`: `{"crate": {"name", "max_version", "newest_version"}, "versions"}`.
 * - `GET /api/v1/crates/<name>/<version>`: `{"version": {"crate", "num", "checksum", "dl_path"}}`,
 *   checksum = sha256 of the crate as received; `dl_path` serves the bytes.
 *
 * tamper: the API states another checksum for every version, as a registry serving other bytes would.
 */
export async function startCratesRegistry(options: {tamper?: boolean} = {}): Promise<CratesRegistry> {
  const token = `cio${randomBytes(24).toString('hex')}`
  const accepted: CrateUpload[] = []
  const seen: Array<{method: string; path: string; authorization: string | undefined}> = []
  let base = ''

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://registry.invalid').pathname
    seen.push({method: request.method ?? '', path, authorization: request.headers.authorization})
    if (path === '/api/v1/crates/new') {
      if (request.method !== 'PUT') return sendErrors(response, 405, 'method not allowed')
      return publish(request, response)
    }
    if (request.method !== 'GET') return sendErrors(response, 405, 'method not allowed')
    if (path.startsWith('/index/')) return index(response, path.slice('/index/'.length))
    const [name, version, download] = path.replace(/^\/api\/v1\/crates\//, '').split('/').map(decodeURIComponent)
    const versions = accepted.filter((upload) => upload.metadata.name === name)
    if (!path.startsWith('/api/v1/crates/') || versions.length === 0) return sendErrors(response, 404, 'Not Found')
    if (version === undefined) {
      const max = versions.at(-1)!.metadata.vers
      return sendJson(response, 200, {crate: {id: name, name, max_version: max, newest_version: max}, versions: versions.map((upload) => versionJson(upload))})
    }
    const upload = versions.find((each) => each.metadata.vers === version)
    if (!upload) return sendErrors(response, 404, `crate \`${name}\` does not have a version \`${version}\``)
    if (download === 'download') {
      response.writeHead(200, {'content-type': 'application/gzip', 'content-length': upload.crate.length}).end(upload.crate)
      return
    }
    return sendJson(response, 200, {version: versionJson(upload)})
  }

  /** The sparse index (`sparse+<url>/index/`), so that real cargo can publish here too: config.json and one file per crate. */
  function index(response: ServerResponse, file: string): void {
    if (file === 'config.json') return sendJson(response, 200, {dl: `${base}/api/v1/crates`, api: base})
    const name = file.split('/').at(-1)
    const lines = accepted
      .filter((upload) => upload.metadata.name === name)
      .map(({metadata, checksum}) => JSON.stringify({name: metadata.name, vers: metadata.vers, deps: [], cksum: checksum, features: {}, yanked: false}))
    if (lines.length === 0) return sendErrors(response, 404, 'Not Found')
    response.writeHead(200, {'content-type': 'text/plain'}).end(`${lines.join('\n')}\n`)
  }

  function versionJson(upload: CrateUpload) {
    const {name, vers} = upload.metadata
    const checksum = options.tamper ? createHash('sha256').update(upload.crate).update('tampered').digest('hex') : upload.checksum
    return {id: accepted.indexOf(upload) + 1, crate: name, num: vers, checksum, dl_path: `/api/v1/crates/${name}/${vers}/download`, yanked: false}
  }

  async function publish(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readRequestBody(request)
    const given = Buffer.from(request.headers.authorization ?? '')
    const expected = Buffer.from(token)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return sendErrors(response, 403, 'authentication failed')
    if (body.length < 4) return sendErrors(response, 400, 'invalid upload request: too short')
    const jsonLength = body.readUInt32LE(0)
    if (body.length < 8 + jsonLength) return sendErrors(response, 400, 'invalid upload request: the metadata is cut off')
    const crateLength = body.readUInt32LE(4 + jsonLength)
    if (body.length !== 8 + jsonLength + crateLength) return sendErrors(response, 400, `invalid upload request: ${body.length} bytes, but the lengths say ${8 + jsonLength + crateLength}`)
    let metadata: CrateUpload['metadata']
    try {
      metadata = JSON.parse(body.subarray(4, 4 + jsonLength).toString('utf8')) as CrateUpload['metadata']
    } catch (error) {
      return sendErrors(response, 400, `invalid upload request: the metadata is not JSON (${(error as Error).message})`)
    }
    if (typeof metadata.name !== 'string' || typeof metadata.vers !== 'string' || !Array.isArray(metadata.deps)) return sendErrors(response, 400, 'invalid upload request: missing field name, vers or deps')
    const crate = body.subarray(8 + jsonLength)
    const manifest = await readCrateManifest(crate, `${metadata.name}-${metadata.vers}`)
    if (manifest === undefined) return sendErrors(response, 400, `the crate is not a gzipped tar with ${metadata.name}-${metadata.vers}/Cargo.toml`)
    if (!manifest.includes(`name = "${metadata.name}"`) || !manifest.includes(`version = "${metadata.vers}"`)) return sendErrors(response, 400, 'the metadata does not match the Cargo.toml in the crate')
    if (accepted.some((upload) => upload.metadata.name === metadata.name && upload.metadata.vers === metadata.vers)) {
      return sendErrors(response, 400, `crate version \`${metadata.vers}\` is already uploaded`)
    }
    accepted.push({metadata, crate: Buffer.from(crate), checksum: createHash('sha256').update(crate).digest('hex')})
    sendJson(response, 200, {warnings: {invalid_categories: [], invalid_badges: [], other: []}})
  }

  const server = await listenOnLoopback(handle)
  base = server.url
  return {url: base, token, uploads: () => [...accepted], requests: () => [...seen], close: server.close}
}

/** The text of `<root>/Cargo.toml` in a crate, or undefined when the bytes are not such a crate (read with GNU tar, not secure's reader). */
async function readCrateManifest(crate: Buffer, root: string): Promise<string | undefined> {
  const listing = await execa('tar', ['-tzf', '-'], {input: crate, reject: false})
  if (listing.exitCode !== 0 || listing.stdout.split('\n').some((name) => !name.startsWith(`${root}/`))) return undefined
  const manifest = await execa('tar', ['-xzOf', '-', `${root}/Cargo.toml`], {input: crate, reject: false})
  return manifest.exitCode === 0 ? manifest.stdout : undefined
}

function sendErrors(response: ServerResponse, status: number, detail: string): void {
  sendJson(response, status, {errors: [{detail}]})
}
