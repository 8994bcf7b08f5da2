import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {basename, join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, it, onTestFinished} from 'vitest'

import {type PypiIndex, startPypiIndex} from '../helpers/pypi-index.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const twine = '/usr/bin/twine'

/**
 * Writes a real sdist (`.tar.gz` with `<base>/PKG-INFO`) and a real wheel (`.whl` zip with `.dist-info/METADATA`,
 * `WHEEL` and `RECORD`) with Python's tarfile/zipfile: no build backend or network needed, and twine reads the
 * metadata of both. Prints the files' paths and Python's hashlib digests as JSON.
 */
const makeDistributions = String.raw`
import base64, hashlib, io, json, os, sys, tarfile, zipfile
out, name, version = sys.argv[1], sys.argv[2], sys.argv[3]
stem = name.replace('-', '_').replace('.', '_').lower()
metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: secure test package\n\n".encode()
module = b"ANSWER = 42\n"

sdist = os.path.join(out, f"{stem}-{version}.tar.gz")
with tarfile.open(sdist, "w:gz", format=tarfile.PAX_FORMAT) as archive:
    for path, data in [(f"{stem}-{version}/PKG-INFO", metadata), (f"{stem}-{version}/{stem}.py", module)]:
        info = tarfile.TarInfo(path)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        archive.addfile(info, io.BytesIO(data))

wheel = os.path.join(out, f"{stem}-{version}-py3-none-any.whl")
dist_info = f"{stem}-{version}.dist-info"
entries = [
    (f"{stem}.py", module),
    (f"{dist_info}/METADATA", metadata),
    (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: secure-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"),
]
record = "".join(
    f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
    for path, data in entries
) + f"{dist_info}/RECORD,,\n"
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
    for path, data in entries + [(f"{dist_info}/RECORD", record.encode())]:
        archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)

def digests(path):
    data = open(path, "rb").read()
    return {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(), "size": len(data)}
print(json.dumps({"sdist": sdist, "wheel": wheel, "digests": {os.path.basename(p): digests(p) for p in (sdist, wheel)}}))
`

type Distributions = {
  sdist: string
  wheel: string
  /** Python's hashlib digests per file name, independent of the index's own hashing. */
  digests: Record<string, {sha256: string; md5: string; size: number}>
}

async function buildDistributions(name: string, version: string): Promise<Distributions> {
  const directory = await makeTempDir('secure-pypi-dist-')
  const built = await execa('python3', ['-c', makeDistributions, directory, name, version], {stdin: 'ignore'})
  return JSON.parse(built.stdout) as Distributions
}

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex')
}

async function startIndex(options: {tamper?: boolean} = {}): Promise<PypiIndex> {
  const index = await startPypiIndex(options)
  onTestFinished(() => index.close())
  return index
}

/** The real twine, with the token only in its environment: a temp HOME (no ~/.pypirc), no keyring, no proxy. */
async function twineUpload(index: PypiIndex, token: string, files: string[]) {
  const home = await makeTempDir('secure-pypi-home-')
  return execa(twine, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', index.uploadUrl, ...files], {
    cwd: home,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      // twine 4.0.2 logs through rich, to stdout, wrapping at the terminal width: no colours, no wrapping.
      NO_COLOR: '1',
      TERM: 'dumb',
      COLUMNS: '500',
      NO_PROXY: '127.0.0.1,localhost',
      TWINE_USERNAME: '__token__',
      TWINE_PASSWORD: token,
      PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
    timeout: 60_000,
  })
}

type FileJson = {filename: string; packagetype: string; size: number; digests: {sha256: string; md5: string}}

async function getJson(url: string): Promise<{status: number; body: unknown}> {
  const response = await fetch(url)
  return {status: response.status, body: await response.json()}
}

describe('the local PyPI stand-in', () => {
  it('takes an sdist and a wheel uploaded by the real twine, and serves their digests in the JSON API', async () => {
    const index = await startIndex()
    const dists = await buildDistributions('Secure.Pypi_Check', '1.0.0')
    const sdistName = basename(dists.sdist)
    const wheelName = basename(dists.wheel)
    const expected = (filename: string) => {
      const {size, ...digests} = dists.digests[filename] ?? {size: -1}
      return {size, digests}
    }

    const uploaded = await twineUpload(index, index.token, [dists.sdist, dists.wheel])
    expect(uploaded.exitCode, uploaded.all).toBe(0)

    // twine sends wheels before sdists, whatever the order on its command line.
    expect(index.uploads()).toEqual([
      {name: 'secure-pypi-check', version: '1.0.0', filename: wheelName, sha256: await sha256Of(dists.wheel)},
      {name: 'secure-pypi-check', version: '1.0.0', filename: sdistName, sha256: await sha256Of(dists.sdist)},
    ])

    // Any spelling of the name that normalises the same (PEP 503) finds the release.
    for (const spelling of ['secure-pypi-check', 'Secure.Pypi_Check']) {
      const release = await getJson(`${index.jsonApiUrl}${spelling}/1.0.0/json`)
      expect(release.status).toBe(200)
      const body = release.body as {info: {name: string; version: string}; urls: FileJson[]}
      // The display name is what twine sent: 4.0.2 passes it through safe_name (`_` → `-`, `.` kept).
      expect(body.info).toMatchObject({name: expect.stringMatching(/^Secure\.Pypi[-_]Check$/), version: '1.0.0'})
      // Digests as Python's hashlib computes them.
      expect(body.urls.map(({filename, packagetype, size, digests}) => ({filename, packagetype, size, digests}))).toEqual([
        {filename: wheelName, packagetype: 'bdist_wheel', ...expected(wheelName)},
        {filename: sdistName, packagetype: 'sdist', ...expected(sdistName)},
      ])
    }

    const project = await getJson(`${index.jsonApiUrl}secure-pypi-check/json`)
    expect(project.status).toBe(200)
    const projectBody = project.body as {info: {version: string}; releases: Record<string, FileJson[]>; urls: Array<FileJson & {url: string}>}
    expect(projectBody.info.version).toBe('1.0.0')
    expect(Object.keys(projectBody.releases)).toEqual(['1.0.0'])
    expect(projectBody.urls.map((file) => file.digests.sha256)).toEqual([await sha256Of(dists.wheel), await sha256Of(dists.sdist)])

    // The file URL serves the bytes received.
    const download = await fetch(projectBody.urls[0]?.url ?? 'http://127.0.0.1:9/')
    expect(Buffer.from(await download.arrayBuffer()).equals(await readFile(dists.wheel))).toBe(true)

    expect(await getJson(`${index.jsonApiUrl}secure-pypi-check/2.0.0/json`)).toEqual({status: 404, body: {message: 'Not Found'}})
    expect(await getJson(`${index.jsonApiUrl}unknown-project/json`)).toEqual({status: 404, body: {message: 'Not Found'}})
  })

  it('refuses a wrong token with 403, which twine reports, and stores nothing', async () => {
    const index = await startIndex()
    const dists = await buildDistributions('secure-pypi-denied', '1.0.0')

    const uploaded = await twineUpload(index, `${index.token}x`, [dists.sdist])
    expect(uploaded.exitCode).not.toBe(0)
    // twine 4.0.2 reports errors on stdout (rich logging), hence `all`.
    expect(uploaded.all).toContain('HTTPError: 403')
    expect(uploaded.all).toContain('Invalid or non-existent authentication information')
    expect(index.uploads()).toEqual([])
    expect((await getJson(`${index.jsonApiUrl}secure-pypi-denied/1.0.0/json`)).status).toBe(404)
  })

  it('refuses a second upload of the same file name, as PyPI does', async () => {
    const index = await startIndex()
    const dists = await buildDistributions('secure-pypi-again', '1.0.0')

    const first = await twineUpload(index, index.token, [dists.wheel])
    expect(first.exitCode, first.all).toBe(0)
    const second = await twineUpload(index, index.token, [dists.wheel])
    expect(second.exitCode).not.toBe(0)
    expect(second.all).toContain('HTTPError: 400')
    expect(second.all).toContain('File already exists')
    expect(index.uploads()).toHaveLength(1)
  })

  it('checks auth, fields and sha256_digest of a raw upload', async () => {
    const index = await startIndex()
    const bytes = Buffer.from('not really a wheel')
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const authorization = `Basic ${Buffer.from(`__token__:${index.token}`).toString('base64')}`
    const form = (fields: Record<string, string>) => {
      const data = new FormData()
      for (const [key, value] of Object.entries(fields)) data.append(key, value)
      data.append('content', new Blob([bytes]), 'raw_check-1.0-py3-none-any.whl')
      return data
    }
    const fields = {':action': 'file_upload', protocol_version: '1', name: 'raw-check', version: '1.0', filetype: 'bdist_wheel', sha256_digest: sha256}
    const post = (body: FormData, headers: Record<string, string> = {authorization}) =>
      fetch(index.uploadUrl, {method: 'POST', headers, body}).then(async (response) => ({status: response.status, text: await response.text()}))

    expect(await post(form(fields), {})).toMatchObject({status: 403, text: expect.stringContaining('Invalid or non-existent authentication information')})
    expect(await post(form(fields), {authorization: `Basic ${Buffer.from(`someone:${index.token}`).toString('base64')}`})).toMatchObject({status: 403})
    expect(await post(form({...fields, sha256_digest: sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'))}))).toMatchObject({
      status: 400,
      text: expect.stringContaining('does not match'),
    })
    expect(await post(form({...fields, ':action': 'submit'}))).toMatchObject({status: 400})
    const {version: _, ...withoutVersion} = fields
    expect(await post(form(withoutVersion))).toMatchObject({status: 400})
    const {sha256_digest: __, ...withoutDigest} = fields
    expect(await post(form(withoutDigest))).toMatchObject({status: 400})
    const contentNotAFile = new FormData()
    for (const [key, value] of Object.entries(fields)) contentNotAFile.append(key, value)
    contentNotAFile.append('content', bytes.toString())
    expect(await post(contentNotAFile)).toMatchObject({status: 400, text: expect.stringContaining('does not have a file')})
    expect(index.uploads()).toEqual([])

    expect(await post(form(fields))).toMatchObject({status: 200})
    expect(index.uploads()).toEqual([{name: 'raw-check', version: '1.0', filename: 'raw_check-1.0-py3-none-any.whl', sha256}])
  })

  it('with tamper, serves a sha256 other than that of the file twine uploaded', async () => {
    const index = await startIndex({tamper: true})
    const dists = await buildDistributions('secure-pypi-tampered', '1.0.0')
    const local = await sha256Of(dists.wheel)

    const uploaded = await twineUpload(index, index.token, [dists.wheel])
    expect(uploaded.exitCode, uploaded.all).toBe(0)
    // The index received the right bytes...
    expect(index.uploads().map((upload) => upload.sha256)).toEqual([local])

    // ...but its JSON API claims others.
    const release = await getJson(`${index.jsonApiUrl}secure-pypi-tampered/1.0.0/json`)
    expect(release.status).toBe(200)
    const [served] = (release.body as {urls: FileJson[]}).urls
    expect(served?.filename).toBe(basename(dists.wheel))
    expect(served?.digests.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(served?.digests.sha256).not.toBe(local)
  })
})
