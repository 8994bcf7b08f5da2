import {createServer, request as httpRequest} from 'node:http'
import {readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEntry, findFilesContaining, givenCliWorkspace} from '../helpers/cli.js'
import {TEST_BASE_IMAGE, findEngines} from '../helpers/engines.js'
import {opDoubleCommand} from '../helpers/op-double.js'
import {givenSignedRepository} from '../helpers/signed-repository.js'
import {type VerdaccioRegistry, startVerdaccio} from '../helpers/verdaccio.js'

// The build runs in the sandbox: Docker is enough here (the sandbox itself is tested on both engines).
const docker = (await findEngines()).find((engine) => engine.name === 'Docker')
const NETWORK_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']
let registry: VerdaccioRegistry

/** A vault holding the registry token (and a one-time password), as the maintainer's 1Password would. */
function vaultWith(token: string) {
  return {
    vaults: [
      {
        id: 'hu5ekhd4ogjxa6lqcgsztoyu4e',
        name: 'Private',
        items: [
          {
            id: 'a4v6vn2o5bzqd6jq3ttfkbbwbu',
            title: 'npm',
            fields: [
              {id: 'credential', label: 'credential', value: token, type: 'CONCEALED'},
              {id: 'otp', label: 'otp', value: '123456', type: 'CONCEALED'},
            ],
          },
        ],
      },
    ],
  }
}

let packages = 0

/**
 * A maintainer's machine and the signed, tagged release commit of a package whose allowed profile
 * names the registry token; `publish` runs the built CLI in it.
 */
async function givenRelease(options: {publish?: string; token?: string; tag?: 'ssh' | 'annotated'; registryUrl?: string} = {}) {
  const name = `secure-e2e-${process.pid}-${++packages}`
  const registryUrl = options.registryUrl ?? registry.url
  const publishTable = options.publish ?? `npm_token = "op://Private/npm/credential"\nregistry = "${registryUrl}"`
  const workspace = await givenCliWorkspace({
    op: {vaults: vaultWith(options.token ?? registry.token)},
    config: `[onepassword]\nprovider = "op"\nop_path = "${opDoubleCommand}"\n\n[sandbox]\nbase_image = "${TEST_BASE_IMAGE}"\n`,
  })
  const fixture = await givenSignedRepository(join(workspace.root, 'release'), {name, version: '1.0.0', main: 'index.js'}, {'.secure.toml': `[publish]\n${publishTable}\n`})
  fixture.sign[options.tag ?? 'ssh']('v1.0.0')
  const environment = {
    ...workspace.environment,
    ...Object.fromEntries(NETWORK_VARIABLES.filter((variable) => process.env[variable]).map((variable) => [variable, process.env[variable]!])),
    GIT_CONFIG_GLOBAL: fixture.environment.GIT_CONFIG_GLOBAL!,
    GIT_CONFIG_NOSYSTEM: '1',
    GNUPGHOME: fixture.environment.GNUPGHOME!,
  }
  const secure = (args: string[]) => execa(process.execPath, [cliEntry, ...args], {cwd: fixture.repository, env: environment, extendEnv: false, reject: false, stdin: 'ignore'})
  expect((await secure(['allow'])).exitCode).toBe(0)
  const publish = (args: string[] = ['--yes']) => secure(['publish', '--engine', docker!.url, ...args])
  const published = async () => (await fetch(`${registry.url}/${name}`)).status === 200
  return {name, workspace, fixture, environment, secure, publish, published}
}

async function auditRecords(home: string): Promise<Array<{event: string; details: Record<string, unknown>}>> {
  const text = await readFile(join(home, '.local', 'state', 'secure', 'audit.jsonl'), 'utf8')
  return text.trim().split('\n').map((line) => JSON.parse(line) as {event: string; details: Record<string, unknown>})
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
    expect(result.stderr, result.stderr).toContain(`secure: releasing ${release.name}@1.0.0 from v1.0.0`)
    expect(result.stderr).toMatch(/signed by ssh maintainer@example\.com SHA256:/)
    expect(result.stderr).toMatch(new RegExp(`${release.name}@1\\.0\\.0: 3 files`))
    expect(result.stderr).toContain('first release: nothing published to compare with')
    expect(result.stderr).toContain('the registry serves the same bytes')
    expect(result.exitCode).toBe(0)

    const packument = (await (await fetch(`${registry.url}/${release.name}`)).json()) as {versions: Record<string, {dist: {integrity: string}}>}
    const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish.npm')!
    expect(record.details).toMatchObject({
      package: release.name,
      version: '1.0.0',
      registry: `${registry.url}/`,
      tag: 'latest',
      gitTag: 'v1.0.0',
      commit: release.fixture.git(['rev-parse', 'HEAD']).trim(),
      integrity: packument.versions['1.0.0']!.dist.integrity,
      verified: true,
    })
    expect(record.details.signer).toMatch(/^ssh maintainer@example\.com /)
    expect(result.stdout + result.stderr).not.toContain(registry.token)
    // The op double's vault file stands in for 1Password, and Verdaccio's storage for the registry: both hold it by design.
    expect(await findFilesContaining([release.workspace.root, tmpdir()], registry.token, started, [registry.directory, dirname(release.workspace.op.callsFile)])).toEqual([])
  })

  it('shows what changed since the latest release before uploading the next one', async () => {
    const release = await givenRelease()
    expect((await release.publish()).exitCode).toBe(0)
    await import('node:fs/promises').then(({writeFile}) => writeFile(join(release.fixture.repository, 'package.json'), JSON.stringify({name: release.name, version: '1.0.1', main: 'index.js', bin: {evil: 'index.js'}})))
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
    expect(result.stderr).toContain('secure: error: no terminal to confirm the release on')
    expect(await release.published()).toBe(false)
  })

  it('a declined confirmation on a terminal publishes nothing', async () => {
    const release = await givenRelease()
    const command = `${process.execPath} ${cliEntry} publish --engine ${docker!.url}`
    const result = await execa('script', ['-qec', command, '/dev/null'], {cwd: release.fixture.repository, env: release.environment, extendEnv: false, reject: false, input: 'n\n'})
    expect(result.stdout).toMatch(/Publish .*\?/)
    expect(result.stdout).toContain('not confirmed: nothing was published')
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

  it('a profile that names no token stops before anything is built', async () => {
    const release = await givenRelease({publish: `registry = "${registry.url}"`})
    const result = await release.publish()
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('secure: error: the profile names no registry token')
    expect(result.stderr).not.toContain('building in the sandbox')
  })

  it('a token reference 1Password cannot resolve publishes nothing', async () => {
    const release = await givenRelease({publish: `npm_token = "op://Private/npm/nothing-here"\nregistry = "${registry.url}"`})
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expect(result.stderr).toMatch(/secure: error: cannot resolve token = op:\/\/Private\/npm\/nothing-here/)
    expect(await release.published()).toBe(false)
  })

  it('a token the registry rejects publishes nothing, and is never printed', async () => {
    const release = await givenRelease({token: 'npm_notARealToken0000000000000000'})
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expect(result.stderr).toContain('secure: error: npm publish failed')
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
      expect(await release.published()).toBe(false)
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
      expect(result.stderr).toMatch(/secure: error: THE REGISTRY SERVES DIFFERENT BYTES for .*@1\.0\.0: sha512-dGFtcGVyZWQ=, but secure uploaded sha512-/)
      const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish.npm')!
      expect(record.details).toMatchObject({verified: false, servedIntegrity: 'sha512-dGFtcGVyZWQ='})
    } finally {
      await lying.close()
    }
  })
})
