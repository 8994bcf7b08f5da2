import {readFile} from 'node:fs/promises'
import {describe, expect, it} from 'vitest'

import {givenCliWorkspace} from '../helpers/cli.js'
import {startJsonRegistry} from '../helpers/json-registry.js'

const fixture = (name: string) => new URL(`../fixtures/npm/${name}`, import.meta.url)
const attestations = JSON.parse(await readFile(fixture('attestations-sigstore-0.4.0.json'), 'utf8')) as unknown
const {integrity} = JSON.parse(await readFile(fixture('sigstore-0.4.0.expected.json'), 'utf8')) as {integrity: string}

/** A registry with sigstore@0.4.0 (real provenance) and 0.4.1 (none: the alarm), latest on 0.4.0. */
async function givenRegistry() {
  const version = (v: string, extra: object) => ({name: 'sigstore', version: v, dist: {integrity: `sha512-${Buffer.alloc(64, v).toString('base64')}`, tarball: `x/sigstore-${v}.tgz`, ...extra}})
  return startJsonRegistry({
    '/sigstore': {
      'dist-tags': {latest: '0.4.0'},
      time: {'0.4.0': '2023-01-11T17:31:52.000Z', '0.4.1': '2026-11-29T08:00:00.000Z'},
      versions: {'0.4.0': version('0.4.0', {integrity, attestations: {url: 'https://registry.npmjs.org/-/npm/v1/attestations/sigstore@0.4.0'}}), '0.4.1': version('0.4.1', {})},
    },
    '/-/npm/v1/attestations/sigstore@0.4.0': attestations,
  })
}

const watchConfig = (registry: string) =>
  `[watch]\nnpm = ["sigstore"]\nnpm_registry = "${registry}"\n\n[watch.provenance."sigstore"]\nrepository = "https://github.com/sigstore/sigstore-js"\nworkflow = ".github/workflows/publish.yml"\n`

describe('secure watch', () => {
  it('alarms (exit 1) on a version nothing explains, once: the next run exits 0 and says it was reported before', async () => {
    const registry = await givenRegistry()
    const workspace = await givenCliWorkspace({config: watchConfig(registry.url)})

    const first = await workspace.run(['watch'])
    const second = await workspace.run(['watch'])

    expect(first.exitCode).toBe(1)
    expect(first.stdout).toMatch(/sigstore\s+0\.4\.0\s+2023-01-11 17:31\s+provenance\s+built by https:\/\/github\.com\/sigstore\/sigstore-js \.github\/workflows\/publish\.yml \(refs\/tags\/v0\.4\.0\)/)
    expect(first.stdout).toMatch(/sigstore\s+0\.4\.1\s+2026-11-29 08:00\s+ALARM downgrade\s+no provenance and no secure publish record, after versions with provenance/)
    expect(first.stdout).toContain('1 new alarm: treat a release nobody can explain as a compromise')
    expect(second.exitCode).toBe(0)
    expect(second.stdout).toContain('ALARM downgrade (reported before)')
    expect(second.stdout).toContain('no new alarms (1 reported before)')
  })

  it('--json gives scripts each verdict; --since leaves out older versions', async () => {
    const registry = await givenRegistry()
    const workspace = await givenCliWorkspace({config: watchConfig(registry.url)})

    const result = await workspace.run(['watch', '--json', '--since', '2026-11-01'])

    expect(result.exitCode).toBe(1)
    const report = JSON.parse(result.stdout) as {verdicts: Array<Record<string, unknown>>; newAlarms: number; unchecked: string[]}
    expect(report.verdicts).toEqual([
      {kind: 'npm', package: 'sigstore', version: '0.4.1', published: '2026-11-29T08:00:00.000Z', status: 'alarm', alarm: 'downgrade', detail: 'no provenance and no secure publish record, after versions with provenance', reportedBefore: false},
    ])
    expect(report.newAlarms).toBe(1)
    expect(report.unchecked).toEqual([])
  })

  it('exits 69 when a registry cannot be read, naming it: nothing is called explained', async () => {
    const workspace = await givenCliWorkspace({config: '[watch]\nnpm = ["sigstore"]\nnpm_registry = "http://127.0.0.1:1/"\n'})

    const result = await workspace.run(['watch'])

    expect(result.exitCode).toBe(69)
    expect(result.stdout).toBe('could not check sigstore (npm): cannot read from the registry http://127.0.0.1:1/ (fetch failed)')
  })

  it('refuses bad input in one line with a hint, exit 2', async () => {
    const workspace = await givenCliWorkspace()
    const badConfig = await givenCliWorkspace({config: '[watch]\nnpm = "sigstore"\n'})

    const nothing = await workspace.run(['watch'])
    const since = await workspace.run(['watch', 'sigstore', '--since', 'last week'])
    const config = await badConfig.run(['watch'])

    expect(nothing.exitCode).toBe(2)
    expect(nothing.stderr).toMatch(/^secure: error: no packages to watch\nhint: name them, or list them under \[watch\] in ~\/\.config\/secure\/config\.toml: npm = \["name"\], pypi = \["name"\], crates = \["name"\]$/)
    expect(since.exitCode).toBe(2)
    expect(since.stderr).toBe('secure: error: --since last week: not a date or a span of time\nhint: give a date such as 2026-11-01, or 30d or 12h')
    expect(config.exitCode).toBe(2)
    expect(config.stderr).toMatch(/watch\.npm is not a known setting or has a wrong value/)
  })
})
