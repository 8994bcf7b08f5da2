import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {verifyReleaseCommit} from '../../src/publish/release-commit.js'
import {givenSignedRepository} from '../helpers/signed-repository.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** Runs the preflight with the fixture's git configuration, as the maintainer's shell would have it. */
function preflight(fixture: Awaited<ReturnType<typeof givenSignedRepository>>, version = '1.0.0', signedTags = true) {
  return verifyReleaseCommit(fixture.repository, version, {signedTags, environment: fixture.environment})
}

describe('verifyReleaseCommit: the preflight of secure publish', {timeout: 20_000}, () => {
  it('accepts an SSH-signed tag from an allowed signer, and names the signer', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.ssh('v1.0.0')
    const release = await preflight(fixture)
    expect(release).toMatchObject({tag: 'v1.0.0', commit: fixture.git(['rev-parse', 'HEAD']).trim()})
    expect(release.signer).toMatch(/^ssh maintainer@example\.com SHA256:/)
  })

  it('accepts a GnuPG-signed tag, and pins the key fingerprint', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.gpg('v1.0.0')
    expect((await preflight(fixture)).signer).toBe(`gpg ${fixture.fingerprint}`)
  })

  it.each([
    ['annotated', 'is not signed'],
    ['lightweight', 'is a lightweight tag, which cannot be signed'],
  ] as const)('refuses a %s unsigned tag', async (kind, problem) => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign[kind]('v1.0.0')
    await expect(preflight(fixture)).rejects.toMatchObject({code: 'PUBLISH_TAG_UNVERIFIED', message: `tag v1.0.0 ${problem}`})
  })

  it('refuses a tag signed by a key that is not an allowed signer, though git calls the signature good', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.ssh('v1.0.0', 'stranger')
    await expect(preflight(fixture)).rejects.toMatchObject({message: 'tag v1.0.0 is signed by a key that is not in your allowed signers'})
  })

  it('refuses a release whose tag does not match the version', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.ssh('v0.9.0')
    await expect(preflight(fixture)).rejects.toMatchObject({code: 'PUBLISH_TAG_MISSING', message: 'HEAD is not tagged v1.0.0 (it has v0.9.0)'})
  })

  it('refuses a dirty work tree, untracked files included', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.ssh('v1.0.0')
    await writeFile(join(fixture.repository, 'notes.txt'), 'x')
    await expect(preflight(fixture)).rejects.toMatchObject({code: 'PUBLISH_DIRTY_TREE', message: 'the work tree has 1 uncommitted change'})
  })

  it('lets a profile waive signatures, recording no signer', async () => {
    const fixture = await givenSignedRepository(await makeTempDir())
    fixture.sign.lightweight('1.0.0')
    expect(await preflight(fixture, '1.0.0', false)).toMatchObject({tag: '1.0.0', signer: null})
  })
})
