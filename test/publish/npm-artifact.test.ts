import {readFile} from 'node:fs/promises'
import {describe, expect, it} from 'vitest'

import {describeRelease, readNpmArtifact} from '../../src/publish/npm-artifact.js'
import {packageTarball} from '../helpers/tarball.js'

const realTarball = new URL('../fixtures/npm/sigstore-0.4.0.tgz', import.meta.url)

const manifest = (fields: object) => JSON.stringify({name: 'demo', version: '1.0.0', ...fields})

describe('readNpmArtifact', () => {
  it('computes the same integrity the public registry states for a real tarball', async () => {
    const artifact = await readNpmArtifact(await readFile(realTarball), 'sigstore-0.4.0.tgz')
    expect(artifact.integrity).toBe('sha512-KCwMX6k20mQyFkNYG2XT3lwK9u1P36wS9YURFd85zCXPrwrSLZCEh7/vMBFNYcJXRiBtGDS+T4/RZZF493zABA==')
    expect(artifact.manifest).toMatchObject({name: 'sigstore', version: '0.4.0'})
    expect(artifact.files.map((file) => file.path)).toContain('package.json')
  })

  it('says plainly when the bytes are not a tarball', async () => {
    await expect(readNpmArtifact(Buffer.from('not gzip'), 'x.tgz')).rejects.toMatchObject({code: 'PUBLISH_BAD_TARBALL'})
  })
})

describe('describeRelease: what a human must see before signing off', () => {
  it('lists every file with its size, the total and the integrity; a first release says so', async () => {
    const artifact = await readNpmArtifact(await packageTarball({'package.json': manifest({}), 'index.js': 'x'.repeat(2048)}), 'a.tgz')
    const lines = describeRelease(artifact, undefined)
    expect(lines[0]).toMatch(/^demo@1\.0\.0: 2 files, 2\.\d kB$/)
    expect(lines).toContain('  2.0 kB  index.js')
    expect(lines).toContain(`integrity ${artifact.integrity}`)
    expect(lines.at(-1)).toBe('first release: nothing published to compare with')
  })

  it('flags new and removed files, a new install script, a new bin entry and a changed publishConfig', async () => {
    const previous = await readNpmArtifact(await packageTarball({'package.json': manifest({version: '1.0.0'}), 'index.js': 'a', 'old.js': 'b'}), 'old.tgz')
    const next = await readNpmArtifact(
      await packageTarball({
        'package.json': manifest({version: '1.0.1', scripts: {postinstall: 'node setup.js', test: 'x'}, bin: {demo: 'cli.js'}, publishConfig: {registry: 'https://evil.example/'}}),
        'index.js': 'a',
        'setup.js': 'steal()',
      }),
      'new.tgz',
    )
    const changes = describeRelease(next, previous).slice(describeRelease(next, previous).indexOf('changes since 1.0.0:') + 1)
    expect(changes).toEqual([
      '  new file       setup.js',
      '  removed file   old.js',
      '  NEW INSTALL SCRIPT postinstall: node setup.js',
      '  new bin      demo -> cli.js',
      '  CHANGED publishConfig: {} -> {"registry":"https://evil.example/"}',
    ])
  })

  it('says when nothing risky changed', async () => {
    const files = {'package.json': manifest({}), 'index.js': 'a'}
    const previous = await readNpmArtifact(await packageTarball(files), 'old.tgz')
    const next = await readNpmArtifact(await packageTarball({...files, 'index.js': 'b'}), 'new.tgz')
    expect(describeRelease(next, previous).at(-1)).toBe('  no new or removed files, install scripts, bin entries or publishConfig')
  })
})
