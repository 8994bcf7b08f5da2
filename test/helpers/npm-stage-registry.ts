import {createHash, randomBytes, randomUUID, timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type ServerResponse} from 'node:http'

import {listenOnLoopback, readRequestBody, sendJson} from './loopback-server.js'
import {packageTarball} from './tarball.js'

/** A request the registry answered, as far as the tests look at it. */
export interface SeenRequest {
  method: string
  path: string
  authorization: string | undefined
  npmCommand: string | undefined
  npmOtp: string | undefined
}

/** A version waiting for approval. */
export interface StagedVersion {
  id: string
  packageName: string
  version: string
  tag: string
  shasum: string
  integrity: string
  tarball: Buffer
}

export interface NpmStageRegistry {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string
  /** The one token the registry accepts (`Authorization: Bearer <token>`). */
  token: string
  /** The one-time password approval wants (`npm-otp`). */
  otp: string
  /** Publishes `name@version` directly, as an earlier release: staging needs the package to exist. */
  seed(name: string, version: string): Promise<void>
  /** Every version staged so far, approved or not. */
  staged(): StagedVersion[]
  requests(): SeenRequest[]
  close(): Promise<void>
}

/**
 * A loopback stand-in for the npm registry's staged publishing, which Verdaccio does not have,
 * answering what npm 11.19 sends (read in npm's source: lib/commands/publish.js,
 * lib/commands/stage/*.js, libnpmpublish/lib/publish.js, npm-registry-fetch):
 *
 * - `GET /<escaped name>`: the packument of the published versions (staged ones are not public);
 *   npm reads it twice before uploading, to refuse a version that exists.
 * - `POST /-/stage/package/<escaped name>`: the same JSON body as `npm publish`'s PUT (the manifest
 *   with `dist.integrity` and `dist.shasum`, `dist-tags`, `access`, the tarball base64 in
 *   `_attachments`), `npm-command: stage`, never an `npm-otp` (staging skips npm's OTP retry).
 *   Answers `{"stageId": "<uuid>"}`, which npm prints as `(staged with id <uuid>)`.
 * - `GET /-/stage/<id>`: the staged item (`id, packageName, version, tag, shasum`, as npm's
 *   `logStageItem` shows it); `POST /-/stage/<id>/approve` with `npm-otp` publishes it (401 with
 *   `www-authenticate: OTP` without the right code, as npmjs asks for 2FA).
 *
 * Like the registry, it checks the bearer token, that the attachment's bytes match the stated
 * integrity and shasum, that the package exists (npm's docs: staging needs a published package; the
 * 404 here is this stub's choice) and that the version is neither published nor staged (409).
 *
 * tamper: after approval, the packument states another integrity for the version.
 */
export async function startNpmStageRegistry(options: {tamper?: boolean} = {}): Promise<NpmStageRegistry> {
  const token = `npm_${randomBytes(24).toString('base64url')}`
  const otp = String(100_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000))
  type Published = {versions: Map<string, {manifest: Record<string, unknown>; tarball: Buffer}>; distTags: Record<string, string>}
  const packages = new Map<string, Published>()
  const stagedVersions: StagedVersion[] = []
  /** The manifests of staged versions not yet approved, by stage id. */
  const pending = new Map<string, Record<string, unknown>>()
  const seen: SeenRequest[] = []
  let base = ''

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://registry.invalid').pathname
    const header = (name: string) => (request.headers[name] as string | undefined) ?? undefined
    seen.push({method: request.method ?? '', path, authorization: header('authorization'), npmCommand: header('npm-command'), npmOtp: header('npm-otp')})

    const stage = /^\/-\/stage\/package\/(.+)$/.exec(path)
    if (stage && request.method === 'POST') return stagePackage(request, response, decodeURIComponent(stage[1]!))
    const approve = /^\/-\/stage\/([0-9a-f-]{36})\/approve$/.exec(path)
    if (approve && request.method === 'POST') return approveStaged(request, response, approve[1]!)
    const view = /^\/-\/stage\/([0-9a-f-]{36})$/.exec(path)
    if (view && request.method === 'GET') {
      if (!authorised(request)) return sendJson(response, 401, {error: 'unauthorized'})
      const item = stagedVersions.find((each) => each.id === view[1])
      return item ? sendJson(response, 200, {id: item.id, packageName: item.packageName, version: item.version, tag: item.tag, shasum: item.shasum}) : sendJson(response, 404, {error: 'not found'})
    }
    const tarball = /^\/(.+)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(path)
    if (tarball && request.method === 'GET') {
      const file = packages.get(decodeURIComponent(tarball[1]!))?.versions.get(tarball[2]!)
      if (!file) return sendJson(response, 404, {error: 'not found'})
      response.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': file.tarball.length}).end(file.tarball)
      return
    }
    if (request.method === 'GET') return packument(response, decodeURIComponent(path.slice(1)))
    return sendJson(response, 405, {error: 'method not allowed'})
  }

  async function stagePackage(request: IncomingMessage, response: ServerResponse, name: string): Promise<void> {
    const body = await readRequestBody(request)
    if (!authorised(request)) return sendJson(response, 401, {error: 'unauthorized'})
    const document = JSON.parse(body.toString('utf8')) as {
      name?: string
      'dist-tags'?: Record<string, string>
      versions?: Record<string, {dist?: {integrity?: string; shasum?: string}}>
      _attachments?: Record<string, {data?: string}>
    }
    const [version, manifest] = Object.entries(document.versions ?? {})[0] ?? []
    const attachment = Object.values(document._attachments ?? {})[0]
    if (document.name !== name || !version || !manifest || !attachment?.data) return sendJson(response, 400, {error: 'a staged publish needs one version and its tarball'})
    const bytes = Buffer.from(attachment.data, 'base64')
    const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`
    const shasum = createHash('sha1').update(bytes).digest('hex')
    if (manifest.dist?.integrity !== integrity || manifest.dist.shasum !== shasum) return sendJson(response, 400, {error: 'the tarball does not match its integrity'})
    const existing = packages.get(name)
    if (!existing) return sendJson(response, 404, {error: `package ${name} must be published before versions of it can be staged`})
    if (existing.versions.has(version) || stagedVersions.some((each) => each.packageName === name && each.version === version)) {
      return sendJson(response, 409, {error: `cannot stage over the existing version ${version}`})
    }
    const tag = Object.keys(document['dist-tags'] ?? {})[0] ?? 'latest'
    const id = randomUUID()
    stagedVersions.push({id, packageName: name, version, tag, shasum, integrity, tarball: bytes})
    // The manifest is kept for approval; the registry, not the client, decides the tarball URL.
    pending.set(id, manifest as Record<string, unknown>)
    sendJson(response, 201, {stageId: id})
  }

  async function approveStaged(request: IncomingMessage, response: ServerResponse, id: string): Promise<void> {
    await readRequestBody(request)
    if (!authorised(request)) return sendJson(response, 401, {error: 'unauthorized'})
    if (request.headers['npm-otp'] !== otp) {
      response.writeHead(401, {'www-authenticate': 'OTP', 'content-type': 'application/json'}).end('{"error":"approving a staged package requires a one-time password"}')
      return
    }
    const item = stagedVersions.find((each) => each.id === id)
    const manifest = pending.get(id)
    if (!item || !manifest) return sendJson(response, 404, {error: 'no such staged package'})
    pending.delete(id)
    publish(item.packageName, item.version, item.tag, manifest, item.tarball)
    sendJson(response, 200, {ok: true})
  }

  function publish(name: string, version: string, tag: string, manifest: Record<string, unknown>, tarball: Buffer): void {
    const entry: Published = packages.get(name) ?? {versions: new Map(), distTags: {}}
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`
    const dist = {integrity, shasum: createHash('sha1').update(tarball).digest('hex'), tarball: `${base}/${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`}
    entry.versions.set(version, {manifest: {...manifest, name, version, dist}, tarball})
    entry.distTags[tag] = version
    packages.set(name, entry)
  }

  function packument(response: ServerResponse, name: string): void {
    const entry = packages.get(name)
    if (!entry) return sendJson(response, 404, {error: 'not found'})
    const versions = Object.fromEntries(
      [...entry.versions].map(([version, {manifest}]) => {
        const approvedFromStage = stagedVersions.some((each) => each.packageName === name && each.version === version)
        const dist = manifest.dist as Record<string, string>
        return [version, options.tamper && approvedFromStage ? {...manifest, dist: {...dist, integrity: 'sha512-dGFtcGVyZWQ='}} : manifest]
      }),
    )
    sendJson(response, 200, {_id: name, name, 'dist-tags': entry.distTags, versions})
  }

  function authorised(request: IncomingMessage): boolean {
    const given = Buffer.from(request.headers.authorization ?? '')
    const expected = Buffer.from(`Bearer ${token}`)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  const server = await listenOnLoopback(handle)
  base = server.url
  return {
    url: base,
    token,
    otp,
    async seed(name, version) {
      publish(name, version, 'latest', {name, version}, await packageTarball({'package.json': JSON.stringify({name, version, main: 'index.js'}), 'index.js': 'export const answer = 41\n'}))
    },
    staged: () => [...stagedVersions],
    requests: () => [...seen],
    close: server.close,
  }
}
