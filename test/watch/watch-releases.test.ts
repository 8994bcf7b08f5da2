import {readFile, writeFile} from 'node:fs/promises'
import {type AddressInfo, createServer} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {appendAuditRecord} from '../../src/audit/index.js'
import {type ExpectedSource} from '../../src/profile/user-config.js'
import {shippedSigstoreTrust} from '../../src/watch/sigstore-trust.js'
import {type WatchOptions, watchReleases} from '../../src/watch/watch-releases.js'
import {startJsonRegistry} from '../helpers/json-registry.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const fixture = (name: string) => new URL(`../fixtures/npm/${name}`, import.meta.url)
/** The registry's real attestations for sigstore@0.4.0, and the integrity they are about. */
const attestations = JSON.parse(await readFile(fixture('attestations-sigstore-0.4.0.json'), 'utf8')) as {attestations: Array<{predicateType: string; bundle: {dsseEnvelope: {payload: string}}}>}
const {integrity: SIGSTORE_INTEGRITY} = JSON.parse(await readFile(fixture('sigstore-0.4.0.expected.json'), 'utf8')) as {integrity: string}
/** Who published @playwright/test@1.58.2, as the registry says: npm's trusted publishing from GitHub Actions. */
const TRUSTED_PUBLISHER = (JSON.parse(await readFile(fixture('packument-dist-examples.json'), 'utf8')) as Record<string, {_npmUser?: unknown}>)[
  '@playwright/test@1.58.2 (published via trusted publishing / OIDC from GitHub Actions)'
]!._npmUser as {name: string}
const SIGSTORE_SOURCE: ExpectedSource = {repository: 'https://github.com/sigstore/sigstore-js', workflow: '.github/workflows/publish.yml'}

/** A made-up integrity, different for each seed. */
const integrityOf = (seed: string) => `sha512-${Buffer.alloc(64, seed).toString('base64')}`

interface VersionSpec {
  integrity?: string
  time: string
  provenance?: boolean
  /** `_npmUser`: a person's account, or a trusted publisher's. */
  publisher?: {name: string}
}

/** A packument as registry.npmjs.org serves one (publishing.md §3.1), with the fields watch reads. */
function packument(name: string, versions: Record<string, VersionSpec>, distTags: Record<string, string> = {}) {
  return {
    name,
    'dist-tags': distTags,
    time: Object.fromEntries(Object.entries(versions).map(([version, spec]) => [version, spec.time])),
    versions: Object.fromEntries(
      Object.entries(versions).map(([version, spec]) => [
        version,
        {
          name,
          version,
          dist: {
            integrity: spec.integrity ?? integrityOf(version),
            tarball: `https://registry.example/${name}/-/${name}-${version}.tgz`,
            ...(spec.provenance ? {attestations: {url: `https://elsewhere.example/attestations/${name}@${version}`, provenance: {predicateType: 'https://slsa.dev/provenance/v0.2'}}} : {}),
          },
          ...(spec.publisher ? {_npmUser: spec.publisher} : {}),
        },
      ]),
    ),
  }
}

/** A maintainer's audit log and watch state, and a registry with `documents`. */
async function givenWatch(documents: Record<string, unknown>) {
  const root = await makeTempDir()
  const registry = await startJsonRegistry(documents)
  const context = {auditLog: join(root, 'state', 'audit.jsonl'), statePath: join(root, 'state', 'watch.json'), loadTrust: async () => shippedSigstoreTrust()}
  const audit = {logPath: context.auditLog, now: () => new Date('2026-11-30T10:00:00Z'), user: 'maintainer', host: 'laptop'}
  /** What `secure publish` appends after a verified upload. */
  const recordPublish = (details: {kind?: 'npm' | 'pypi' | 'cargo'; package: string; version: string; files: Array<{filename: string; digest: string}>}, event = 'publish') =>
    appendAuditRecord(audit, {
      event,
      cwd: root,
      details: {
        kind: 'npm',
        ...details,
        // Where secure publish records each registry: PyPI's upload URL and JSON API; cargo's API base, no slash.
        ...(details.kind === 'pypi' ? {registry: 'https://upload.example/legacy/', jsonApi: registry.url} : {registry: details.kind === 'cargo' ? registry.url.slice(0, -1) : registry.url}),
        ...(event === 'publish' ? {verified: true} : {stageId: 'stage-1'}),
      },
    })
  const watch = (packages: WatchOptions['packages'], since?: Date) => watchReleases({packages, since}, context)
  const npm = (name: string, provenance?: ExpectedSource) => ({kind: 'npm' as const, name, registry: registry.url, ...(provenance ? {provenance} : {})})
  return {root, registry, context, recordPublish, watch, npm}
}

/** A port on 127.0.0.1 nothing listens on: a registry that is down. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const statusOf = (report: Awaited<ReturnType<typeof watchReleases>>) => report.verdicts.map((verdict) => [verdict.version, verdict.alarm ?? verdict.status])

describe('secure watch on npm', () => {
  it('explains a version secure publish recorded with the same bytes, and alarms when the registry serves other bytes', async () => {
    // Given two versions published with secure publish, the second now served with other bytes.
    const {watch, npm, recordPublish} = await givenWatch({
      '/pkg': packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}, '1.1.0': {time: '2026-11-02T10:00:00Z', integrity: integrityOf('swapped')}}, {latest: '1.0.0'}),
    })
    await recordPublish({package: 'pkg', version: '1.0.0', files: [{filename: 'pkg-1.0.0.tgz', digest: integrityOf('1.0.0')}]})
    await recordPublish({package: 'pkg', version: '1.1.0', files: [{filename: 'pkg-1.1.0.tgz', digest: integrityOf('1.1.0')}]})

    const report = await watch([npm('pkg')])

    expect(statusOf(report)).toEqual([['1.0.0', 'recorded'], ['1.1.0', 'integrity']])
    expect(report.verdicts[1]!.detail).toContain(`${integrityOf('swapped')}, recorded ${integrityOf('1.1.0')}`)
    expect(report.newAlarms).toBe(1)
  })

  it('alarms on a version nothing explains, and on the dist-tag pointing at it, once', async () => {
    // Given a version published with the same token outside secure publish, and latest moved to it.
    const {watch, npm, recordPublish, registry} = await givenWatch({
      '/pkg': packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}, '1.0.1': {time: '2026-11-03T10:00:00Z'}}, {latest: '1.0.1'}),
    })
    await recordPublish({package: 'pkg', version: '1.0.0', files: [{filename: 'pkg-1.0.0.tgz', digest: integrityOf('1.0.0')}]})

    const first = await watch([npm('pkg')])
    const second = await watch([npm('pkg')])

    expect(statusOf(first)).toEqual([['1.0.0', 'recorded'], ['1.0.1', 'unexplained'], ['1.0.1', 'dist-tag']])
    expect(first.newAlarms).toBe(2)
    expect(second.newAlarms).toBe(0)
    expect(second.verdicts.filter((verdict) => verdict.status === 'alarm').every((verdict) => verdict.reportedBefore)).toBe(true)

    // When a further release nobody made appears, it alarms, and only it.
    registry.documents.set('/pkg', packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}, '1.0.1': {time: '2026-11-03T10:00:00Z'}, '1.0.2': {time: '2026-11-04T10:00:00Z'}}, {latest: '1.0.1'}))
    const third = await watch([npm('pkg')])
    expect(third.newAlarms).toBe(1)
    expect(third.verdicts.filter((verdict) => !verdict.reportedBefore && verdict.status === 'alarm').map((verdict) => verdict.version)).toEqual(['1.0.2'])
  })

  it('explains a version by verified provenance from the expected workflow, and alarms on any other source', async () => {
    const documents = {
      '/sigstore': packument('sigstore', {'0.4.0': {time: '2023-01-11T17:31:52Z', integrity: SIGSTORE_INTEGRITY, provenance: true}}, {latest: '0.4.0'}),
      '/-/npm/v1/attestations/sigstore@0.4.0': attestations,
    }
    const {watch, npm} = await givenWatch(documents)

    const expected = await watch([npm('sigstore', SIGSTORE_SOURCE)])
    const otherWorkflow = await watch([npm('sigstore', {...SIGSTORE_SOURCE, workflow: '.github/workflows/release.yml'})])
    const unconfigured = await watch([npm('sigstore')])

    expect(statusOf(expected)).toEqual([['0.4.0', 'provenance']])
    expect(expected.verdicts[0]!.detail).toBe('built by https://github.com/sigstore/sigstore-js .github/workflows/publish.yml (refs/tags/v0.4.0)')
    expect(expected.trust).toBe('shipped')
    expect(statusOf(otherWorkflow)).toEqual([['0.4.0', 'provenance-mismatch'], ['0.4.0', 'dist-tag']])
    expect(otherWorkflow.verdicts[0]!.detail).toContain('not https://github.com/sigstore/sigstore-js .github/workflows/release.yml')
    expect(statusOf(unconfigured)[0]).toEqual(['0.4.0', 'unexplained'])
    expect(unconfigured.verdicts[0]!.detail).toContain('[watch.provenance."sigstore"] names no source to expect')
  })

  it('alarms on provenance that does not verify, and on provenance about other bytes', async () => {
    const forged = structuredClone(attestations)
    const statement = forged.attestations.find((attestation) => attestation.predicateType.startsWith('https://slsa.dev/'))!.bundle.dsseEnvelope
    statement.payload = Buffer.from(Buffer.from(statement.payload, 'base64').toString('utf8').replace('sigstore/sigstore-js', 'sigstore/sigstore-jz')).toString('base64')
    const {watch, npm} = await givenWatch({
      '/sigstore': packument('sigstore', {
        '0.4.0': {time: '2023-01-11T17:31:52Z', integrity: SIGSTORE_INTEGRITY, provenance: true},
        '0.4.1': {time: '2023-01-12T10:00:00Z', provenance: true},
      }),
      '/-/npm/v1/attestations/sigstore@0.4.0': forged,
      // A real bundle replayed for a version with other bytes.
      '/-/npm/v1/attestations/sigstore@0.4.1': attestations,
    })

    const report = await watch([npm('sigstore', SIGSTORE_SOURCE)])

    expect(statusOf(report)).toEqual([['0.4.0', 'provenance-invalid'], ['0.4.1', 'provenance-invalid']])
    expect(report.verdicts[0]!.detail).toMatch(/^the provenance does not verify: /)
    expect(report.verdicts[1]!.detail).toBe('the provenance is about pkg:npm/sigstore@0.4.0, not pkg:npm/sigstore@0.4.1')
  })

  it('verifies each version\'s provenance once: later runs do not fetch it again', async () => {
    const {watch, npm, registry} = await givenWatch({
      '/sigstore': packument('sigstore', {'0.4.0': {time: '2023-01-11T17:31:52Z', integrity: SIGSTORE_INTEGRITY, provenance: true}}),
      '/-/npm/v1/attestations/sigstore@0.4.0': attestations,
    })

    await watch([npm('sigstore', SIGSTORE_SOURCE)])
    registry.documents.delete('/-/npm/v1/attestations/sigstore@0.4.0')
    const second = await watch([npm('sigstore', SIGSTORE_SOURCE)])

    expect(statusOf(second)).toEqual([['0.4.0', 'provenance']])
    expect(registry.requests.filter((path) => path.includes('attestations'))).toHaveLength(1)
  })

  it('alarms on a downgrade: no provenance after versions with it, or a person after a trusted publisher', async () => {
    const {watch, npm, recordPublish} = await givenWatch({
      '/sigstore': packument('sigstore', {'0.4.0': {time: '2023-01-11T17:31:52Z', integrity: SIGSTORE_INTEGRITY, provenance: true}, '0.5.0': {time: '2023-02-01T10:00:00Z'}}),
      '/-/npm/v1/attestations/sigstore@0.4.0': attestations,
      '/tool': packument('tool', {
        '2.0.0': {time: '2026-10-01T10:00:00Z', publisher: TRUSTED_PUBLISHER},
        '2.0.1': {time: '2026-10-02T10:00:00Z', publisher: {name: 'maintainer'}},
        '2.0.2': {time: '2026-10-03T10:00:00Z', publisher: {name: 'stolen-token-user'}},
      }),
    })
    // Both earlier releases are explained; 2.0.0 was made by a trusted publisher, 2.0.1 by the maintainer
    // with secure publish (recorded: no alarm, whoever made it).
    await recordPublish({package: 'tool', version: '2.0.0', files: [{filename: 'tool-2.0.0.tgz', digest: integrityOf('2.0.0')}]})
    await recordPublish({package: 'tool', version: '2.0.1', files: [{filename: 'tool-2.0.1.tgz', digest: integrityOf('2.0.1')}]})

    const report = await watch([npm('sigstore', SIGSTORE_SOURCE), npm('tool')])

    expect(statusOf(report)).toEqual([['0.4.0', 'provenance'], ['0.5.0', 'downgrade'], ['2.0.0', 'recorded'], ['2.0.1', 'recorded'], ['2.0.2', 'downgrade']])
    expect(report.verdicts[1]!.detail).toBe('no provenance and no secure publish record, after versions with provenance')
    expect(report.verdicts[4]!.detail).toBe('published by stolen-token-user, where a trusted publisher (CI) published before')
  })

  it('explains a version staged with secure publish and then approved: the registry serves the staged bytes', async () => {
    const {watch, npm, recordPublish} = await givenWatch({
      '/pkg': packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}, '1.1.0': {time: '2026-11-02T10:00:00Z', integrity: integrityOf('not staged')}}),
    })
    await recordPublish({package: 'pkg', version: '1.0.0', files: [{filename: 'pkg-1.0.0.tgz', digest: integrityOf('1.0.0')}]}, 'publish.staged')
    await recordPublish({package: 'pkg', version: '1.1.0', files: [{filename: 'pkg-1.1.0.tgz', digest: integrityOf('1.1.0')}]}, 'publish.staged')

    const report = await watch([npm('pkg')])

    expect(statusOf(report)).toEqual([['1.0.0', 'recorded'], ['1.1.0', 'integrity']])
  })

  it('--since judges only recent versions, with the older ones still counting as history', async () => {
    const {watch, npm} = await givenWatch({
      '/sigstore': packument('sigstore', {'0.4.0': {time: '2023-01-11T17:31:52Z', integrity: SIGSTORE_INTEGRITY, provenance: true}, '0.5.0': {time: '2026-11-20T10:00:00Z'}}),
      '/-/npm/v1/attestations/sigstore@0.4.0': attestations,
    })

    const report = await watch([npm('sigstore', SIGSTORE_SOURCE)], new Date('2026-11-01T00:00:00Z'))

    expect(statusOf(report)).toEqual([['0.5.0', 'downgrade']])
  })

  it('reports a package it cannot read as unchecked, never as explained, and still judges the others', async () => {
    const {watch, npm, recordPublish} = await givenWatch({'/pkg': packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}})})
    await recordPublish({package: 'pkg', version: '1.0.0', files: [{filename: 'pkg-1.0.0.tgz', digest: integrityOf('1.0.0')}]})

    const down = `http://127.0.0.1:${await closedPort()}/`

    const report = await watch([npm('no-such-package'), {kind: 'npm', name: 'pkg2', registry: down}, npm('pkg')])

    expect(report.unchecked).toEqual([
      expect.stringMatching(/^no-such-package \(npm\): not found on http:\/\/127\.0\.0\.1:\d+\/$/),
      `pkg2 (npm): cannot read from the registry ${down} (ECONNREFUSED)`,
    ])
    expect(statusOf(report)).toEqual([['1.0.0', 'recorded']])
    expect(report.newAlarms).toBe(0)
  })

  it('uses no record of an audit log that was edited, and alarms on the edit', async () => {
    const {watch, npm, recordPublish, context} = await givenWatch({'/pkg': packument('pkg', {'1.0.0': {time: '2026-11-01T10:00:00Z'}, '1.0.1': {time: '2026-11-02T10:00:00Z'}})})
    await recordPublish({package: 'pkg', version: '1.0.0', files: [{filename: 'pkg-1.0.0.tgz', digest: integrityOf('1.0.0')}]})
    await recordPublish({package: 'pkg', version: '1.0.1', files: [{filename: 'pkg-1.0.1.tgz', digest: integrityOf('other')}]})
    // Someone makes the record of 1.0.1 fit what the registry serves.
    const log = await readFile(context.auditLog, 'utf8')
    await writeFile(context.auditLog, log.replace(integrityOf('other'), integrityOf('1.0.1')))

    const report = await watch([npm('pkg')])

    expect(report.auditLogProblem?.detail).toMatch(/record 2 \(line 2\) was edited/)
    expect(statusOf(report)).toEqual([['1.0.0', 'unexplained'], ['1.0.1', 'unexplained']])
    expect(report.newAlarms).toBe(3)
  })
})

describe('secure watch on PyPI', () => {
  const sha = (seed: string) => Buffer.alloc(32, seed).toString('hex')
  const file = (filename: string, digest: string, time: string) => ({filename, digests: {sha256: digest, md5: 'x'}, upload_time_iso_8601: time})

  it('explains a release whose every file secure publish recorded, and alarms on a file added later or other bytes', async () => {
    const {watch, registry, recordPublish} = await givenWatch({
      '/my-project/json': {
        info: {name: 'my-project', version: '1.1.0'},
        releases: {
          '1.0.0': [file('my_project-1.0.0.tar.gz', sha('a'), '2026-11-01T10:00:00Z'), file('my_project-1.0.0-py3-none-any.whl', sha('b'), '2026-11-01T10:00:01Z')],
          // A wheel someone uploaded to the release a week later, and an sdist with other bytes.
          '1.1.0': [file('my_project-1.1.0.tar.gz', sha('c'), '2026-11-02T10:00:00Z'), file('my_project-1.1.0-cp312-manylinux_x86_64.whl', sha('d'), '2026-11-09T10:00:00Z')],
          '1.2.0': [file('my_project-1.2.0.tar.gz', sha('e'), '2026-11-03T10:00:00Z')],
        },
      },
    })
    await recordPublish({kind: 'pypi', package: 'my-project', version: '1.0.0', files: [{filename: 'my_project-1.0.0.tar.gz', digest: sha('a')}, {filename: 'my_project-1.0.0-py3-none-any.whl', digest: sha('b')}]})
    await recordPublish({kind: 'pypi', package: 'my-project', version: '1.1.0', files: [{filename: 'my_project-1.1.0.tar.gz', digest: sha('c')}]})
    await recordPublish({kind: 'pypi', package: 'my-project', version: '1.2.0', files: [{filename: 'my_project-1.2.0.tar.gz', digest: sha('f')}]})

    const report = await watch([{kind: 'pypi', name: 'my-project', registry: registry.url}])

    expect(statusOf(report)).toEqual([['1.0.0', 'recorded'], ['1.1.0', 'unrecorded-file'], ['1.2.0', 'integrity']])
    expect(report.verdicts[1]!.detail).toBe('my_project-1.1.0-cp312-manylinux_x86_64.whl was added to the release, and no secure publish record has it')
    expect(report.verdicts[0]!.published).toBe('2026-11-01T10:00:00Z')
  })
})

describe('secure watch on crates.io', () => {
  const sha = (seed: string) => Buffer.alloc(32, seed).toString('hex')
  /** A version as crates.io's web API lists it: `published_by` for a token, `trustpub_data` for trusted publishing. */
  const crateVersion = (num: string, time: string, publisher: {login: string} | {trustpub: string}) => ({
    num,
    checksum: sha(num),
    created_at: time,
    published_by: 'login' in publisher ? {id: 1, login: publisher.login} : null,
    trustpub_data: 'trustpub' in publisher ? {provider: 'github', repository: publisher.trustpub, run_id: '1234', sha: 'f00'} : null,
  })

  it('explains recorded crates and trusted publishing from the expected repository, and alarms on the rest', async () => {
    const {watch, registry, recordPublish} = await givenWatch({
      '/api/v1/crates/my-crate': {
        crate: {name: 'my-crate'},
        versions: [
          crateVersion('0.3.0', '2026-11-05T10:00:00Z', {login: 'stolen-token-user'}),
          crateVersion('0.2.1', '2026-11-04T10:00:00Z', {trustpub: 'someone-else/my-crate'}),
          crateVersion('0.2.0', '2026-11-03T10:00:00Z', {trustpub: 'me/my-crate'}),
          crateVersion('0.1.0', '2026-11-01T10:00:00Z', {login: 'me'}),
        ],
      },
    })
    await recordPublish({kind: 'cargo', package: 'my-crate', version: '0.1.0', files: [{filename: 'my-crate-0.1.0.crate', digest: sha('0.1.0')}]})
    const api = registry.url.slice(0, -1)

    const report = await watch([{kind: 'cargo', name: 'my-crate', registry: api, provenance: {repository: 'https://github.com/me/my-crate', workflow: '.github/workflows/release.yml'}}])

    expect(statusOf(report)).toEqual([['0.1.0', 'recorded'], ['0.2.0', 'provenance'], ['0.2.1', 'provenance-mismatch'], ['0.3.0', 'downgrade']])
    expect(report.verdicts[1]!.detail).toBe('trusted publishing from https://github.com/me/my-crate (run 1234), as crates.io states it')
    expect(report.verdicts[3]!.detail).toBe('published by stolen-token-user, where a trusted publisher (CI) published before')
  })
})
