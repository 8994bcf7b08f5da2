import {createServer, request as httpRequest} from 'node:http'
import {readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEntry, findFilesContaining} from '../helpers/cli.js'
import {findEngines} from '../helpers/engines.js'
import {type PypiIndex, startPypiIndex} from '../helpers/pypi-index.js'
import {auditLogPath, auditRecords, expectOneLineError, givenReleaseRepository} from '../helpers/release-repository.js'
import {type VerdaccioRegistry, startVerdaccio} from '../helpers/verdaccio.js'

// The build runs in the sandbox: Docker is enough here (the sandbox itself is tested on both engines).
const docker = (await findEngines()).find((engine) => engine.name === 'Docker')
let registry: VerdaccioRegistry

/**
 * A maintainer's machine and the signed, tagged release commit of a package whose allowed profile
 * names the registry token (Verdaccio's unless told otherwise); `publish` runs the built CLI in it.
 */
async function givenRelease(options: {publish?: string; token?: string; pypiToken?: string; tag?: 'ssh' | 'annotated'; registryUrl?: string; python?: boolean} = {}) {
  const registryUrl = options.registryUrl ?? registry?.url
  const release = await givenReleaseRepository({
    engine: docker!,
    publish: options.publish ?? `npm_token = "op://Private/npm/credential"\nregistry = "${registryUrl}"`,
    tokens: {npm: options.token ?? registry?.token, pypi: options.pypiToken},
    kind: options.python ? 'python' : 'npm',
    tag: options.tag,
  })
  const published = async () => (await fetch(`${registryUrl}/${release.name}`)).status === 200
  return {...release, published}
}

/**
 * A registry that lies: it forwards everything to Verdaccio, but serves packuments with a
 * different integrity for every version, and (with `otp`) rejects uploads without that one-time
 * password the way npmjs does (401 + www-authenticate: OTP).
 */
async function startTamperingRegistry(options: {tamper: boolean; otp?: string}): Promise<{url: string; close(): Promise<void>}> {
  const upstream = new URL(registry.url)
  const server = createServer((incoming, outgoing) => {
    if (options.otp && incoming.method === 'PUT' && incoming.headers['npm-otp'] !== options.otp) {
      outgoing.writeHead(401, {'www-authenticate': 'OTP', 'content-type': 'application/json'}).end('{"error":"one-time password required"}')
      return
    }
    const forwarded = httpRequest({host: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers: {...incoming.headers, host: upstream.host, 'accept-encoding': 'identity'}}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        let body = Buffer.concat(chunks)
        if (options.tamper && incoming.method === 'GET' && response.statusCode === 200 && /json/.test(String(response.headers['content-type']))) {
          body = Buffer.from(body.toString('utf8').replace(/"integrity":\s*"sha512-[^"]+"/g, '"integrity":"sha512-dGFtcGVyZWQ="'))
        }
        const headers = {...response.headers, 'content-length': String(body.length)}
        delete headers['transfer-encoding']
        outgoing.writeHead(response.statusCode ?? 502, headers).end(body)
      })
    })
    incoming.pipe(forwarded)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return {url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve()))}
}

describe.runIf(docker)('secure publish against a real registry (Verdaccio)', {timeout: 180_000}, () => {
  beforeAll(async () => {
    registry = await startVerdaccio()
  }, 60_000)
  afterAll(async () => registry?.stop())

  it('builds in the sandbox, uploads exactly that tarball with a just-in-time token, verifies it and records it; the token touches no disk', async () => {
    const started = Date.now()
    const release = await givenRelease()
    const result = await release.publish()
    expect(result.stderr, result.stderr).toContain(`secure: releasing ${release.name} 1.0.0 from v1.0.0`)
    expect(result.stderr).toMatch(/signed by ssh maintainer@example\.com SHA256:/)
    expect(result.stderr).toMatch(new RegExp(`${release.name}@1\\.0\\.0: 3 files`))
    expect(result.stderr).toContain('first release: nothing published to compare with')
    expect(result.stderr).toContain('the registry serves the same bytes')
    expect(result.exitCode).toBe(0)

    const packument = (await (await fetch(`${registry.url}/${release.name}`)).json()) as {versions: Record<string, {dist: {integrity: string}}>}
    const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')!
    const integrity = packument.versions['1.0.0']!.dist.integrity
    expect(record.details).toMatchObject({
      kind: 'npm',
      package: release.name,
      version: '1.0.0',
      registry: `${registry.url}/`,
      tag: 'latest',
      access: 'public',
      gitTag: 'v1.0.0',
      commit: release.fixture.git(['rev-parse', 'HEAD']).trim(),
      files: [{filename: `${release.name}-1.0.0.tgz`, digest: integrity}],
      served: {[`${release.name}-1.0.0.tgz`]: integrity},
      verified: true,
    })
    expect(record.details.signer).toMatch(/^ssh maintainer@example\.com /)
    expect(result.stdout + result.stderr).not.toContain(registry.token)
    // The op double's vault file stands in for 1Password, and Verdaccio's storage for the registry: both hold it by design.
    expect(await findFilesContaining([release.workspace.root, tmpdir()], registry.token, started, [registry.directory, dirname(release.workspace.op.callsFile)])).toEqual([])
    expect(await readFile(auditLogPath(release.workspace.home), 'utf8')).not.toContain(registry.token)
  })

  it('shows what changed since the latest release before uploading the next one', async () => {
    const release = await givenRelease()
    expect((await release.publish()).exitCode).toBe(0)
    await writeFile(join(release.fixture.repository, 'package.json'), JSON.stringify({name: release.name, version: '1.0.1', main: 'index.js', bin: {evil: 'index.js'}}))
    release.fixture.git(['commit', '-qam', 'next'])
    release.fixture.sign.ssh('v1.0.1')
    const result = await release.publish()
    expect(result.stderr).toContain('changes since 1.0.0:')
    expect(result.stderr).toContain('  new bin      evil -> index.js')
    expect(result.exitCode).toBe(0)
  })

  it('--dry-run does everything but the upload', async () => {
    const release = await givenRelease()
    const result = await release.publish(['--dry-run'])
    expect(result.stderr).toContain('secure: dry run: nothing uploaded; would run npm publish')
    expect(result.exitCode).toBe(0)
    expect(await release.published()).toBe(false)
  })

  it('without a terminal and without --yes, refuses and publishes nothing', async () => {
    const release = await givenRelease()
    const result = await release.publish([])
    expect(result.exitCode).toBe(77)
    expectOneLineError(result.stderr, /no terminal to confirm the release on$/)
    expect(await release.published()).toBe(false)
  })

  it('a declined confirmation on a terminal publishes nothing', async () => {
    const release = await givenRelease()
    const command = `${process.execPath} ${cliEntry} publish --engine ${docker!.url}`
    const result = await execa('script', ['-qec', command, '/dev/null'], {cwd: release.fixture.repository, env: release.environment, extendEnv: false, reject: false, input: 'n\n'})
    expect(result.stdout).toMatch(/Publish .*\?/)
    // The terminal's own line endings are \r\n; the prompt library may leave escape codes before the line.
    expect(result.stdout).toMatch(/secure: error: not confirmed: nothing was published\r?\nhint: [^\r\n]+[\r\n]*$/)
    expect(result.stdout.match(/secure: error: /g)).toHaveLength(1)
    expect(result.exitCode).toBe(77)
    expect(await release.published()).toBe(false)
  })

  it('an unsigned tag stops before anything is built', async () => {
    const release = await givenRelease({tag: 'annotated'})
    const result = await release.publish()
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toMatch(/^secure: error: tag v1\.0\.0 is not signed\nhint: /)
    expect(await release.published()).toBe(false)
  })

  it('a dirty work tree stops before anything is built', async () => {
    const release = await givenRelease()
    await writeFile(join(release.fixture.repository, 'index.js'), 'export const answer = 43\n')
    const result = await release.publish()
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toMatch(/^secure: error: the work tree has 1 uncommitted change\nhint: commit or stash them[^\n]*\n?$/)
    expect(await release.published()).toBe(false)
  })

  it('a release tag that does not match the version stops before anything is built', async () => {
    const release = await givenRelease()
    release.fixture.git(['tag', '-d', 'v1.0.0'])
    release.fixture.sign.ssh('v1.0.1')
    const result = await release.publish()
    expect(result.exitCode).toBe(77)
    expect(result.stderr).toMatch(/^secure: error: HEAD is not tagged v1\.0\.0 \(it has v1\.0\.1\)\nhint: [^\n]+\n?$/)
    expect(await release.published()).toBe(false)
  })

  it('a profile that names no token stops before anything is built', async () => {
    const release = await givenRelease({publish: `registry = "${registry.url}"`})
    const result = await release.publish()
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/^secure: releasing .*\nsecure: error: the profile names no registry token\nhint: add npm_token = [^\n]+\n?$/)
    expect(await release.published()).toBe(false)
  })

  it('a token reference 1Password cannot resolve publishes nothing', async () => {
    const release = await givenRelease({publish: `npm_token = "op://Private/npm/nothing-here"\nregistry = "${registry.url}"`})
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expectOneLineError(result.stderr, /cannot resolve token = op:\/\/Private\/npm\/nothing-here/)
    expect(await release.published()).toBe(false)
  })

  it('a token the registry rejects publishes nothing, and is never printed', async () => {
    const release = await givenRelease({token: 'npm_notARealToken0000000000000000'})
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expectOneLineError(result.stderr, /npm failed to upload \(exit 1\); its output is above$/)
    expect(result.stderr).not.toContain('npm_notARealToken0000000000000000')
    expect(await release.published()).toBe(false)
  })

  it('a wrong one-time password publishes nothing', async () => {
    const guarded = await startTamperingRegistry({tamper: false, otp: '654321'})
    try {
      const release = await givenRelease({publish: `npm_token = "op://Private/npm/credential"\nnpm_otp = "op://Private/npm/otp"\nregistry = "${guarded.url}"`, registryUrl: guarded.url})
      const result = await release.publish()
      expect(result.exitCode).toBe(69)
      expect(result.stderr).toMatch(/EOTP|one-time password/)
      expectOneLineError(result.stderr, /npm failed to upload \(exit 1\); its output is above$/)
      expect(await release.published()).toBe(false)
    } finally {
      await guarded.close()
    }
  })

  it('asks for the one-time password the registry wants when the profile names none, and publishes with it', async () => {
    const guarded = await startTamperingRegistry({tamper: false, otp: '654321'})
    try {
      const release = await givenRelease({registryUrl: guarded.url})
      // On a terminal, as a maintainer types: "y" at the confirmation, then the code from their authenticator.
      const command = `${process.execPath} ${cliEntry} publish --engine ${docker!.url}`
      const session = execa('script', ['-qec', command, '/dev/null'], {cwd: release.fixture.repository, env: release.environment, extendEnv: false, reject: false, stdin: 'pipe'})
      let screen = ''
      const answered = new Set<string>()
      session.stdout!.on('data', (chunk: Buffer) => {
        screen += chunk.toString('utf8')
        for (const [prompt, answer] of [['Publish', 'y\r'], ['The registry asks for a one-time password', '654321\r']] as const) {
          if (screen.includes(prompt) && !answered.has(prompt)) {
            answered.add(prompt)
            session.stdin!.write(answer)
          }
        }
      })
      const result = await session
      expect(result.stdout).toContain('The registry asks for a one-time password')
      expect(result.stdout).not.toContain('654321')
      expect(result.stdout).toContain('the registry serves the same bytes')
      expect(result.exitCode).toBe(0)
      expect(await release.published()).toBe(true)
    } finally {
      await guarded.close()
    }
  })

  it('a registry that serves other bytes than were uploaded is a loud failure, and recorded', async () => {
    const lying = await startTamperingRegistry({tamper: true})
    try {
      const release = await givenRelease({registryUrl: lying.url})
      const result = await release.publish()
      expect(result.exitCode, result.stderr).toBe(77)
      expectOneLineError(result.stderr, /THE REGISTRY SERVES DIFFERENT BYTES for .*-1\.0\.0\.tgz: sha512-dGFtcGVyZWQ=, but secure uploaded sha512-/)
      const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')!
      expect(record.details).toMatchObject({verified: false, served: {[`${release.name}-1.0.0.tgz`]: 'sha512-dGFtcGVyZWQ='}})
    } finally {
      await lying.close()
    }
  })
})

describe.runIf(docker)('secure publish to a PyPI index, with twine', {timeout: 300_000}, () => {
  let index: PypiIndex
  beforeAll(async () => {
    index = await startPypiIndex()
  })
  afterAll(async () => index?.close())

  const pypiProfile = (url: {uploadUrl: string; jsonApiUrl: string}) => `pypi_token = "op://Private/pypi/credential"\nregistry = "${url.uploadUrl}"\njson_api = "${url.jsonApiUrl}"`

  it('builds the sdist and wheel in the sandbox, uploads them with the token in twine\'s environment only, and verifies their sha256', async () => {
    const started = Date.now()
    const release = await givenRelease({python: true, publish: pypiProfile(index), pypiToken: index.token})
    const result = await release.publish()
    expect(result.stderr, result.stderr).toMatch(/: 2 distribution files/)
    expect(result.stderr).toContain('the registry serves the same bytes')
    expect(result.exitCode).toBe(0)
    const uploaded = index.uploads().filter((upload) => upload.name === release.name)
    expect(uploaded.map((upload) => upload.filename).sort()).toEqual([`${release.name}-1.0.0.tar.gz`, `${release.name.replaceAll('-', '_')}-1.0.0-py3-none-any.whl`])
    const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')!
    expect(record.details).toMatchObject({kind: 'pypi', package: release.name, version: '1.0.0', verified: true})
    expect((record.details.files as Array<{digest: string}>).map((file) => file.digest).sort()).toEqual(uploaded.map((upload) => upload.sha256).sort())
    expect(result.stdout + result.stderr).not.toContain(index.token)
    expect(await findFilesContaining([release.workspace.root, tmpdir()], index.token, started, [dirname(release.workspace.op.callsFile)])).toEqual([])
  })

  it('reviews the files inside the sdist and the wheel, and a command the next release adds', async () => {
    const release = await givenRelease({python: true, publish: pypiProfile(index), pypiToken: index.token})
    expect((await release.publish()).exitCode).toBe(0)
    const pyproject = join(release.fixture.repository, 'pyproject.toml')
    const text = await readFile(pyproject, 'utf8')
    await writeFile(pyproject, `${text.replace('version = "1.0.0"', 'version = "1.0.1"')}\n[project.scripts]\npip = "release_check:main"\n`)
    release.fixture.git(['commit', '-qam', 'next'])
    release.fixture.sign.ssh('v1.0.1')

    const result = await release.publish()

    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^ {6}\s*\d+ B {2}release_check\.py$/m)
    expect(result.stderr).toMatch(new RegExp(`^ {6}\\s*[\\d.]+ k?B {2}${release.name.replaceAll('-', '_')}-1\\.0\\.1\\.dist-info/METADATA$`, 'm'))
    expect(result.stderr).toContain('changes since 1.0.0:')
    expect(result.stderr).toContain('  NEW COMMAND pip -> release_check:main (py3-none-any)')
  })

  it('a token the index rejects uploads nothing', async () => {
    const release = await givenRelease({python: true, publish: pypiProfile(index), pypiToken: 'pypi-notTheRightToken'})
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expectOneLineError(result.stderr, /twine failed to upload \(exit 1\); its output is above$/)
    expect(index.uploads().filter((upload) => upload.name === release.name)).toEqual([])
  })

  it('an index that serves other digests than were uploaded is a loud failure', async () => {
    const lying = await startPypiIndex({tamper: true})
    try {
      const release = await givenRelease({python: true, publish: pypiProfile(lying), pypiToken: lying.token})
      const result = await release.publish()
      expect(result.exitCode, result.stderr).toBe(77)
      expectOneLineError(result.stderr, /THE REGISTRY SERVES DIFFERENT BYTES for .*1\.0\.0/)
    } finally {
      await lying.close()
    }
  })
})
