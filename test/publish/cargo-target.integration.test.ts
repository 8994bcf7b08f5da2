import {chmod, mkdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, it, onTestFinished} from 'vitest'

import {readCrate} from '../../src/publish/crate-artifact.js'
import {findFilesContaining} from '../helpers/cli.js'
import {type TestEngine, findEngines, givenSandboxWorkspace} from '../helpers/engines.js'
import {type CratesRegistry, startCratesRegistry} from '../helpers/crates-registry.js'
import {auditLogPath, auditRecords, expectOneLineError, givenReleaseRepository} from '../helpers/release-repository.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const engines = await findEngines()
const docker = engines.find((engine) => engine.name === 'Docker')

async function startRegistry(options: {tamper?: boolean} = {}): Promise<CratesRegistry> {
  const registry = await startCratesRegistry(options)
  onTestFinished(() => registry.close())
  return registry
}

/** The signed release v1.0.0 of a crate whose allowed profile names the crates.io token and this registry. */
function givenCrateRelease(engine: TestEngine, registry: CratesRegistry, token = registry.token) {
  return givenReleaseRepository({
    engine,
    kind: 'rust',
    publish: `cargo_token = "op://Private/cargo/credential"\nregistry = "${registry.url}"`,
    tokens: {cargo: token},
  })
}

describe.each(engines)('secure publish to a crates.io API, on $name', {timeout: 300_000}, (engine) => {
  it('builds the crate with cargo package in the sandbox, uploads exactly that .crate with the token in the one request, verifies its checksum and records it', async () => {
    const started = Date.now()
    const registry = await startRegistry()
    const release = await givenCrateRelease(engine, registry)
    const result = await release.publish()
    expect(result.stderr, result.stderr).toContain(`secure: releasing ${release.name} 1.0.0 from v1.0.0`)
    expect(result.stderr).toMatch(new RegExp(`${release.name} 1\\.0\\.0: \\d+ files`))
    const commit = release.fixture.git(['rev-parse', 'HEAD']).trim()
    expect(result.stderr).toContain(`cargo packaged it from git commit ${commit}`)
    expect(result.stderr).toContain('the registry serves the same bytes')
    expect(result.exitCode).toBe(0)

    const [upload] = registry.uploads()
    expect(upload!.metadata).toMatchObject({name: release.name, vers: '1.0.0', deps: [], description: "secure's test crate", license: 'MIT'})
    const publishRequests = registry.requests().filter((request) => request.method === 'PUT')
    expect(publishRequests).toEqual([{method: 'PUT', path: '/api/v1/crates/new', authorization: registry.token}])
    // The reads before and after carry no token.
    expect(registry.requests().filter((request) => request.method === 'GET').map((request) => request.authorization)).toEqual(registry.requests().filter((request) => request.method === 'GET').map(() => undefined))

    const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')!
    expect(record.details).toMatchObject({
      kind: 'cargo',
      package: release.name,
      version: '1.0.0',
      registry: registry.url,
      files: [{filename: `${release.name}-1.0.0.crate`, digest: upload!.checksum}],
      served: {[`${release.name}-1.0.0.crate`]: upload!.checksum},
      verified: true,
      commit,
      gitTag: 'v1.0.0',
    })
    expect(result.stdout + result.stderr).not.toContain(registry.token)
    expect(await readFile(auditLogPath(release.workspace.home), 'utf8')).not.toContain(registry.token)
    expect(await findFilesContaining([release.workspace.root, tmpdir()], registry.token, started, [dirname(release.workspace.op.callsFile)])).toEqual([])
  })
})

describe.runIf(docker)('secure publish to a crates.io API: failures', {timeout: 300_000}, () => {
  it('a token the registry rejects uploads nothing, and is never printed', async () => {
    const registry = await startRegistry()
    const release = await givenCrateRelease(docker!, registry, 'cioNotTheRightToken000000000000000000')
    const result = await release.publish()
    expect(result.exitCode).toBe(69)
    expectOneLineError(result.stderr, new RegExp(`${registry.url} refused the upload \\(HTTP 403: authentication failed\\)$`))
    expect(result.stderr).not.toContain('cioNotTheRightToken000000000000000000')
    expect(registry.uploads()).toEqual([])
    expect((await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish.failed')?.details).toMatchObject({kind: 'cargo', error: expect.stringContaining('HTTP 403')})
  })

  it('a registry that serves another checksum than the crate uploaded is a loud failure, and recorded', async () => {
    const registry = await startRegistry({tamper: true})
    const release = await givenCrateRelease(docker!, registry)
    const result = await release.publish()
    expect(result.exitCode, result.stderr).toBe(77)
    expectOneLineError(result.stderr, new RegExp(`THE REGISTRY SERVES DIFFERENT BYTES for ${release.name}-1\\.0\\.0\\.crate: [0-9a-f]{64}, but secure uploaded [0-9a-f]{64}$`))
    expect((await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')?.details).toMatchObject({verified: false})
  })

  it('sends the same metadata cargo publish itself sends for the same crate', async () => {
    // Real cargo publishes a crate with every kind of metadata and dependency to the stub (its sparse
    // index and API); secure's metadata for the .crate cargo uploaded must be the same, byte for byte.
    const registry = await startRegistry()
    const sandbox = await givenSandboxWorkspace(docker!)
    const listed = JSON.parse((await sandbox.run(['image', 'list', '--json', '--engine', docker!.url])).stdout) as {images: Array<{name: string; state: string}>}
    if (listed.images.find((each) => each.name === 'rust:1.85')?.state !== 'current') {
      const image = await sandbox.run(['image', 'build', 'rust', '--engine', docker!.url])
      expect(image.exitCode, image.stderr).toBe(0)
    }
    const crate = await givenMetadataCrate()
    const cargo = await execa(
      'docker',
      ['run', '--rm', '--network', 'host', '--user', '65534', '-e', 'HOME=/tmp', '-v', `${crate}:/src:ro`, 'localhost/secure/rust:1.85', 'sh', '-c', 'cp -r /src /tmp/crate && cd /tmp/crate && cargo publish --no-verify --allow-dirty --index "$0" --token "$1"', `sparse+${registry.url}/index/`, registry.token],
      {reject: false},
    )
    expect(cargo.exitCode, cargo.stderr).toBe(0)
    const [upload] = registry.uploads()
    const ours = await readCrate(upload!.crate, 'cargo.crate', {toCratesIo: false})
    expect(JSON.stringify(ours.metadata)).toBe(JSON.stringify(upload!.metadata))
    expect(ours.checksum).toBe(upload!.checksum)
  })
})

/**
 * A crate using every field NewCrate carries: metadata, badges, a readme, features with `dep:`, a
 * renamed optional dependency without default features, build and platform dependencies, a path-only
 * dev-dependency (which cargo drops), a build script (needed for `links`), and its dependency
 * vendored, so cargo resolves it with no network.
 */
async function givenMetadataCrate(): Promise<string> {
  const root = await makeTempDir('secure-crate-')
  const files: Record<string, string> = {
    'Cargo.toml': `[package]
name = "secure-metadata-check"
version = "1.2.3"
edition = "2021"
authors = ["Maintainer <maintainer@example.com>"]
description = "a crate with every field"
documentation = "https://docs.example.com/check"
homepage = "https://example.com/check"
repository = "https://github.com/example/check"
readme = "README.md"
keywords = ["test", "metadata"]
categories = ["development-tools"]
license = "MIT OR Apache-2.0"
rust-version = "1.70"
links = "checklib"
build = "build.rs"

[badges]
maintenance = { status = "actively-developed" }

[features]
default = ["std"]
std = []
extra = ["dep:helpy", "helpy?/x"]

[dependencies]
helpy = { package = "helper", version = "0.1", optional = true, default-features = false, features = ["x"] }

[build-dependencies]
helper = "=0.1.0"

[target.'cfg(windows)'.dependencies]
helper = { version = ">= 0.1, < 0.3" }

[dev-dependencies]
devhelper = { path = "devhelper" }
`,
    'README.md': '# check\n\nA crate with every field.\n',
    'build.rs': 'fn main() {}\n',
    'src/lib.rs': 'pub fn answer() -> u32 { 42 }\n',
    '.cargo/config.toml': '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "vendor"\n',
    'vendor/helper/Cargo.toml': '[package]\nname = "helper"\nversion = "0.1.0"\nedition = "2021"\n\n[features]\nx = []\n',
    'vendor/helper/src/lib.rs': '',
    'vendor/helper/.cargo-checksum.json': '{"files": {}, "package": null}',
    'devhelper/Cargo.toml': '[package]\nname = "devhelper"\nversion = "0.1.0"\nedition = "2021"\n',
    'devhelper/src/lib.rs': '',
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), {recursive: true})
    await writeFile(join(root, path), content)
  }
  // The container runs as nobody: it must be able to read it all.
  await execa('chmod', ['-R', 'a+rX', root])
  await chmod(root, 0o755)
  return root
}
