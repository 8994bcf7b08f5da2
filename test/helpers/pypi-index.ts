import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface PypiIndex {
  /** Base URL, http://127.0.0.1:PORT (no trailing slash). */
  url: string
  /** The upload URL twine takes with --repository-url: `${url}/legacy/`. */
  uploadUrl: string
  /** The JSON API base, as pypi.org's https://pypi.org/pypi/: `${url}/pypi/`. */
  jsonApiUrl: string
  /** The one token the index accepts (`pypi-…`), with username __token__. */
  token: string
  /** Every accepted upload so far: name, version, filename, sha256 of the bytes received. */
  uploads(): Array<{name: string; version: string; filename: string; sha256: string}>
  close(): Promise<void>
}

type StoredFile = {
  /** The project name as uploaded (PyPI's display name); storage is keyed by its PEP 503 form. */
  name: string
  version: string
  filename: string
  packagetype: 'sdist' | 'bdist_wheel'
  bytes: Buffer
  sha256: string
  md5: string
  uploadTime: Date
}

/** Bodies above this are refused (413): the index keeps everything in memory. */
const maxUploadBytes = 64 * 1024 * 1024

const invalidAuth = 'Invalid or non-existent authentication information. See http://127.0.0.1/help/#invalid-auth for more information.'

/**
 * Starts an in-memory stand-in for PyPI on 127.0.0.1 (a free port): the legacy upload API twine uses
 * (`POST /legacy/`, Basic `__token__:<token>`, multipart/form-data) and the JSON API
 * (`GET /pypi/<project>/json`, `GET /pypi/<project>/<version>/json`), plus the files themselves at
 * `/packages/<project>/<filename>` (the `url` of each file in the JSON API).
 *
 * Like PyPI, the index computes the digests it serves from the bytes it received and rejects an upload
 * whose `sha256_digest` (or `md5_digest` when sent) differs, or whose filename was
 * uploaded before. Errors carry PyPI's message both as the HTTP reason phrase (which twine prints) and
 * as a text body.
 *
 * tamper: the JSON API serves altered digests (sha256 and md5) for every file, as an index
 * that serves bytes other than those uploaded would. Uploads and `uploads()` are unaffected.
 *
 * The caller must call close(); nothing here depends on vitest, so it works from beforeAll/afterAll.
 */
export async function startPypiIndex(options: {tamper?: boolean} = {}): Promise<PypiIndex> {
  const token = `pypi-${randomBytes(32).toString('base64url')}`
  const files: StoredFile[] = []
  let base = ''

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, `Internal error in the test index: ${String(error)}`)
      else response.destroy()
    })
  })

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://index.invalid').pathname
    if (path === '/legacy/' || path === '/legacy') {
      if (request.method !== 'POST') return send(response, 405, 'Method Not Allowed', {allow: 'POST'})
      return upload(request, response)
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'Method Not Allowed', {allow: 'GET, HEAD'})

    const segments = path.split('/').slice(1)
    if (segments[0] === 'pypi' && segments.length === 3 && segments[2] === 'json') return projectJson(response, decode(segments[1]))
    if (segments[0] === 'pypi' && segments.length === 4 && segments[3] === 'json') return releaseJson(response, decode(segments[1]), decode(segments[2]))
    if (segments[0] === 'packages' && segments.length === 3) {
      const project = normalise(decode(segments[1]))
      const file = files.find((candidate) => normalise(candidate.name) === project && candidate.filename === decode(segments[2]))
      if (file === undefined) return sendJson(response, 404, {message: 'Not Found'})
      response.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': file.bytes.length})
      response.end(request.method === 'HEAD' ? undefined : file.bytes)
      return
    }
    return sendJson(response, 404, {message: 'Not Found'})
  }

  async function upload(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!authorised(request.headers.authorization, token)) {
      request.resume()
      return send(response, 403, invalidAuth)
    }
    const contentType = request.headers['content-type'] ?? ''
    if (!/^multipart\/form-data\s*;/i.test(contentType)) {
      request.resume()
      return send(response, 400, 'Invalid request: the body must be multipart/form-data.')
    }
    const body = await readBody(request)
    if (body === undefined) return send(response, 413, 'Request entity too large.', {connection: 'close'})

    let form: FormData
    try {
      // undici's multipart parser (the WHATWG one), on the whole body: twine's requests_toolbelt encoding parses as is.
      form = await new Response(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), {headers: {'content-type': contentType}}).formData()
    } catch (error) {
      return send(response, 400, `Invalid multipart/form-data body: ${error instanceof Error ? error.message : String(error)}`)
    }

    const action = text(form, ':action')
    if (action !== 'file_upload') return send(response, 400, `Invalid value for :action: ${JSON.stringify(action ?? null)}.`)
    const name = text(form, 'name')?.trim()
    const version = text(form, 'version')?.trim()
    const sha256Digest = text(form, 'sha256_digest')?.trim().toLowerCase()
    const content = form.get('content')
    if (!name) return send(response, 400, "'' is an invalid value for Name.")
    if (!version) return send(response, 400, "'' is an invalid value for Version.")
    if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name)) return send(response, 400, `'${name}' is an invalid value for Name.`)
    if (!(content instanceof File)) return send(response, 400, 'Upload payload does not have a file.')
    if (!sha256Digest) return send(response, 400, 'Include at least one message digest.')

    const filename = content.name
    if (filename === '' || /[/\\]/.test(filename) || filename.startsWith('.')) return send(response, 400, `Invalid filename: ${JSON.stringify(filename)}.`)
    const packagetype = filename.endsWith('.whl') ? 'bdist_wheel' : filename.endsWith('.tar.gz') || filename.endsWith('.zip') ? 'sdist' : undefined
    if (packagetype === undefined) return send(response, 400, `Invalid file extension: Use .tar.gz, .whl or .zip extension. (${filename})`)

    const bytes = Buffer.from(await content.arrayBuffer())
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const md5 = createHash('md5').update(bytes).digest('hex')
    const mismatch = 'The digest supplied does not match a digest calculated from the uploaded file.'
    if (sha256Digest !== sha256) return send(response, 400, mismatch)
    const md5Digest = text(form, 'md5_digest')?.trim().toLowerCase()
    if (md5Digest && md5Digest !== md5) return send(response, 400, mismatch)

    // PyPI refuses any filename ever used, in any project; so does this index.
    if (files.some((file) => file.filename === filename)) return send(response, 400, 'File already exists. See http://127.0.0.1/help/#file-name-reuse for more information.')

    // Release-level data comes from the first upload of a project: keep its display name.
    const project = normalise(name)
    const displayName = files.find((file) => normalise(file.name) === project)?.name ?? name
    files.push({name: displayName, version, filename, packagetype, bytes, sha256, md5, uploadTime: new Date()})
    send(response, 200, 'OK')
  }

  function fileJson(file: StoredFile) {
    const digests = options.tamper
      ? {
          sha256: createHash('sha256').update(file.bytes).update('tampered').digest('hex'),
          md5: createHash('md5').update(file.bytes).update('tampered').digest('hex'),
        }
      : {sha256: file.sha256, md5: file.md5}
    const uploadTime = file.uploadTime.toISOString()
    return {
      filename: file.filename,
      packagetype: file.packagetype,
      python_version: file.packagetype === 'sdist' ? 'source' : 'py3',
      size: file.bytes.length,
      digests,
      md5_digest: digests.md5,
      url: `${base}/packages/${encodeURIComponent(normalise(file.name))}/${encodeURIComponent(file.filename)}`,
      upload_time: uploadTime.slice(0, 19),
      upload_time_iso_8601: uploadTime,
      yanked: false,
      yanked_reason: null,
    }
  }

  function projectFiles(name: string): StoredFile[] {
    const project = normalise(name)
    return files.filter((file) => normalise(file.name) === project)
  }

  function releaseJson(response: ServerResponse, name: string, version: string): void {
    const release = projectFiles(name).filter((file) => file.version === version)
    const [first] = release
    if (first === undefined) return sendJson(response, 404, {message: 'Not Found'})
    sendJson(response, 200, {info: {name: first.name, version: first.version, yanked: false}, urls: release.map(fileJson), vulnerabilities: []})
  }

  function projectJson(response: ServerResponse, name: string): void {
    const project = projectFiles(name)
    // "Latest" is the most recently created release (in upload order), not a PEP 440 comparison.
    const latest = project.at(-1)
    if (latest === undefined) return sendJson(response, 404, {message: 'Not Found'})
    const releases: Record<string, ReturnType<typeof fileJson>[]> = {}
    for (const file of project) (releases[file.version] ??= []).push(fileJson(file))
    const latestVersion = Object.keys(releases).at(-1) ?? latest.version
    sendJson(response, 200, {
      info: {name: latest.name, version: latestVersion, yanked: false},
      releases,
      urls: project.filter((file) => file.version === latestVersion).map(fileJson),
      vulnerabilities: [],
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const {port} = server.address() as AddressInfo
  base = `http://127.0.0.1:${port}`

  let closed: Promise<void> | undefined
  return {
    url: base,
    uploadUrl: `${base}/legacy/`,
    jsonApiUrl: `${base}/pypi/`,
    token,
    uploads: () => files.map(({name, version, filename, sha256}) => ({name: normalise(name), version, filename, sha256})),
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })
      return closed
    },
  }
}

/** PEP 503 normalised project name: lowercase, runs of `-`, `_`, `.` become one `-`. */
export function normalise(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase()
}

function authorised(header: string | undefined, token: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!match?.[1]) return false
  const given = Buffer.from(match[1], 'base64')
  const expected = Buffer.from(`__token__:${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxUploadBytes) {
    request.resume()
    return undefined
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxUploadBytes) {
      request.resume()
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function text(form: FormData, field: string): string | undefined {
  const value = form.get(field)
  return typeof value === 'string' ? value : undefined
}

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? '')
  } catch {
    return ''
  }
}

/** A text answer whose first line is also the HTTP reason phrase, as PyPI does (twine prints the reason). */
function send(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const reason = message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200)
  response.writeHead(status, reason, {'content-type': 'text/plain; charset=utf-8', ...headers})
  response.end(`${status} ${message}\n`)
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(json)})
  response.end(json)
}
