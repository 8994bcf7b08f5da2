import {chmod, mkdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, it, onTestFinished} from 'vitest'

import {findFilesContaining} from '../helpers/cli.js'
import {findEngines} from '../helpers/engines.js'
import {type NpmStageRegistry, startNpmStageRegistry} from '../helpers/npm-stage-registry.js'
import {auditLogPath, auditRecords, expectOneLineError, givenReleaseRepository} from '../helpers/release-repository.js'

// The build runs in the sandbox: Docker is enough here (the sandbox itself is tested on both engines).
const docker = (await findEngines()).find((engine) => engine.name === 'Docker')

async function startRegistry(options: {tamper?: boolean} = {}): Promise<NpmStageRegistry> {
  const registry = await startNpmStageRegistry(options)
  onTestFinished(() => registry.close())
  return registry
}

/**
 * The signed release v1.0.0 of a package with an earlier version 0.9.0 on the registry (staging
 * needs the package to exist), whose profile stages, and also names a one-time password, which
 * staging must not use. The maintainer's ~/.npmrc holds another token for the same registry, which
 * must not be used either.
 */
async function givenStagedRelease(registry: NpmStageRegistry) {
  const release = await givenReleaseRepository({
    engine: docker!,
    publish: `npm_token = "op://Private/npm/credential"\nnpm_otp = "op://Private/npm/otp"\nstage = true\nregistry = "${registry.url}"`,
    tokens: {npm: registry.token},
  })
  await registry.seed(release.name, '0.9.0')
  await writeFile(join(release.workspace.home, '.npmrc'), `//${new URL(registry.url).host}/:_authToken=npm_homeTokenThatMustNotBeUsed00000\n`)
  return release
}

/** The human's side: `npm stage approve <id>` with their 2FA code, as the message says. */
async function approve(registry: NpmStageRegistry, id: string) {
  const approval = await execa('npm', ['stage', 'approve', id, '--otp', registry.otp, '--registry', `${registry.url}/`], {
    cwd: tmpdir(),
    env: {PATH: process.env.PATH, HOME: tmpdir(), npm_config_userconfig: '/dev/null', [`npm_config_//${new URL(registry.url).host}/:_authToken`]: registry.token},
    extendEnv: false,
    reject: false,
  })
  expect(approval.exitCode, approval.stderr).toBe(0)
}

describe.runIf(docker)('secure publish --stage (npm stage publish, against a stub of the registry)', {timeout: 180_000}, () => {
  it('stages exactly the built tarball with the token from the environment and no one-time password; nothing is public until approved; --verify-staged then records the release', async () => {
    const started = Date.now()
    const registry = await startRegistry()
    const release = await givenStagedRelease(registry)

    const result = await release.publish()
    expect(result.exitCode, result.stderr).toBe(0)
    const [staged] = registry.staged()
    expect(staged).toMatchObject({packageName: release.name, version: '1.0.0', tag: 'latest'})
    expect(result.stderr).toContain(`secure: staged ${release.name} 1.0.0 on ${registry.url}/ (stage id ${staged!.id}); it is not public until you approve it with 2FA: npm stage approve ${staged!.id} --registry ${registry.url}/`)
    expect(result.stderr).toContain('secure publish --verify-staged')
    // What npm sent: the stage route, npm-command stage, the profile's token from the environment (not ~/.npmrc's), no OTP.
    const stageRequest = registry.requests().find((request) => request.method === 'POST')!
    expect(stageRequest).toEqual({method: 'POST', path: `/-/stage/package/${release.name}`, authorization: `Bearer ${registry.token}`, npmCommand: 'stage', npmOtp: undefined})
    expect(registry.requests().map((request) => request.authorization)).not.toContain('Bearer npm_homeTokenThatMustNotBeUsed00000')
    const packument = (await (await fetch(`${registry.url}/${release.name}`)).json()) as {versions: Record<string, unknown>}
    expect(Object.keys(packument.versions)).toEqual(['0.9.0'])

    const records = await auditRecords(release.workspace.home)
    expect(records.map((record) => record.event)).not.toContain('publish')
    const stagedRecord = records.find((record) => record.event === 'publish.staged')!
    expect(stagedRecord.details).toEqual({
      kind: 'npm',
      package: release.name,
      version: '1.0.0',
      registry: `${registry.url}/`,
      tag: 'latest',
      access: 'public',
      files: [{filename: `${release.name}-1.0.0.tgz`, digest: staged!.integrity}],
      commit: release.fixture.git(['rev-parse', 'HEAD']).trim(),
      gitTag: 'v1.0.0',
      signer: expect.stringMatching(/^ssh maintainer@example\.com SHA256:/),
      stageId: staged!.id,
      approve: `npm stage approve ${staged!.id} --registry ${registry.url}/`,
    })

    // Before the approval, there is nothing to verify yet.
    const early = await release.secure(['publish', '--verify-staged'])
    expect(early.exitCode).toBe(69)
    expectOneLineError(early.stderr, new RegExp(`${release.name} 1\\.0\\.0 is not public on ${registry.url}/ yet$`))
    expect(early.stderr).toContain(`hint: approve the staged version with 2FA first: npm stage approve ${staged!.id}`)

    await approve(registry, staged!.id)
    const verified = await release.secure(['publish', '--verify-staged'])
    expect(verified.exitCode, verified.stderr).toBe(0)
    expect(verified.stderr).toContain(`secure: published ${release.name} 1.0.0 to ${registry.url}/; the registry serves the same bytes (${staged!.integrity})`)
    const published = (await auditRecords(release.workspace.home)).find((record) => record.event === 'publish')!
    expect(published.details).toMatchObject({...stagedRecord.details, served: {[`${release.name}-1.0.0.tgz`]: staged!.integrity}, verified: true})

    for (const output of [result, early, verified]) expect(output.stdout + output.stderr).not.toContain(registry.token)
    expect(await readFile(auditLogPath(release.workspace.home), 'utf8')).not.toContain(registry.token)
    expect(await findFilesContaining([release.workspace.root, tmpdir()], registry.token, started, [dirname(release.workspace.op.callsFile)])).toEqual([])
  })

  it('a staged version the registry serves with other bytes once approved is a loud failure, and recorded', async () => {
    const registry = await startRegistry({tamper: true})
    const release = await givenStagedRelease(registry)
    expect((await release.publish()).exitCode).toBe(0)
    await approve(registry, registry.staged()[0]!.id)
    const result = await release.secure(['publish', '--verify-staged'])
    expect(result.exitCode).toBe(77)
    expectOneLineError(result.stderr, /THE REGISTRY SERVES DIFFERENT BYTES for .*-1\.0\.0\.tgz: sha512-dGFtcGVyZWQ=, but secure uploaded sha512-/)
    const record = (await auditRecords(release.workspace.home)).find((entry) => entry.event === 'publish')!
    expect(record.details).toMatchObject({verified: false, stageId: registry.staged()[0]!.id})
  })

  it('--verify-staged without a staged release in the audit log says so in one line', async () => {
    const registry = await startRegistry()
    const release = await givenStagedRelease(registry)
    const result = await release.secure(['publish', '--verify-staged'])
    expect(result.exitCode).toBe(2)
    expectOneLineError(result.stderr, new RegExp(`the audit log has no staged release of ${release.name} 1\\.0\\.0 to ${registry.url}/$`))
  })

  it('an npm older than 11.15 cannot stage: it says so before anything is built', async () => {
    const registry = await startRegistry()
    const release = await givenStagedRelease(registry)
    const bin = join(release.workspace.root, 'old-npm')
    await mkdir(bin)
    await writeFile(join(bin, 'npm'), '#!/bin/sh\necho 10.9.2\n')
    await chmod(join(bin, 'npm'), 0o755)
    const result = await release.publish(['--yes'], {PATH: `${bin}:${release.workspace.environment.PATH}`})
    expect(result.exitCode).toBe(69)
    expectOneLineError(result.stderr, /npm 10\.9\.2 cannot stage a release: npm stage came with npm 11\.15\.0$/)
    expect(result.stderr).not.toContain('building in the sandbox')
    expect(registry.staged()).toEqual([])
  })
})
