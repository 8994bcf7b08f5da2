import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {describeActivation} from '../../src/hook/activation.js'
import {allowProfile} from '../../src/profile/trust-decisions.js'
import {TrustStore} from '../../src/profile/trust-store.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** A home with a repository, secure's trust directory and (optionally) the user's config. */
async function givenRepository(profile: string, config?: string) {
  const root = await makeTempDir()
  const home = join(root, 'home')
  const repository = join(home, 'src', 'project')
  await mkdir(join(repository, 'sub'), {recursive: true})
  const paths = {home, configFile: join(root, 'config.toml'), trustDirectory: join(root, 'trust')}
  if (config !== undefined) await writeFile(paths.configFile, config)
  const file = join(repository, '.secure.toml')
  await writeFile(file, profile)
  const trust = new TrustStore(paths.trustDirectory)
  const allow = () => allowProfile(repository, repository, paths.trustDirectory, () => undefined)
  return {repository, file, paths, trust, allow, describe: () => describeActivation(join(repository, 'sub'), paths, {})}
}

describe('describeActivation', () => {
  it('an allowed profile: its wrappers, the allow record that must stay, and the exact bytes it may be cached for', async () => {
    const {file, trust, allow, describe} = await givenRepository('[hook]\nexec = ["twine"]\n')
    const {fingerprint} = await allow()
    const activation = await describe()
    expect(activation).toMatchObject({wrappers: [{program: 'twine', exec: 'all'}], scrub: false, status: 'secure: ~/src/project: twine → secure exec'})
    expect(activation.watch).toEqual({files: [file], present: [trust.allowRecord(fingerprint!)], absent: [trust.denyRecord(file)]})
    expect(activation.cacheable).toEqual({file, fingerprint, content: await readFile(file)})
  })

  it('a profile that is not allowed: credentials removed, and looked at again once it is allowed', async () => {
    const {file, trust, describe} = await givenRepository('[hook]\nexec = ["twine"]\n')
    const activation = await describe()
    expect(activation).toMatchObject({wrappers: [], scrub: true, status: 'secure: ~/src/project: profile NOT ALLOWED; review it (secure status), then: secure allow'})
    expect(activation.watch.absent).toEqual([trust.allowRecord(activation.cacheable!.fingerprint), trust.denyRecord(file)])
  })

  it('is not cached when the profile reads an env file, whose edits it watches instead', async () => {
    const {repository, file, allow, describe} = await givenRepository('env_files = [".env.op"]\n')
    await writeFile(join(repository, '.env.op'), 'NPM_TOKEN=op://Private/npm/token\n')
    await allow()
    const activation = await describe()
    expect(activation.status).toBe('secure: ~/src/project: no wrapped commands; secrets NPM_TOKEN')
    expect(activation.watch.files).toEqual([file, join(repository, '.env.op')])
    expect(activation.cacheable).toBeUndefined()
  })

  it('is not cached where one of the user\'s [directories] entries applies too', async () => {
    const {allow, describe} = await givenRepository('[hook]\nexec = ["twine"]\n', '[directories."~/src"]\n[directories."~/src".hook]\nexec = ["gh"]\n')
    await allow()
    const activation = await describe()
    expect(activation.wrappers.map((wrapper) => wrapper.program)).toEqual(['twine'])
    expect(activation.cacheable).toBeUndefined()
  })
})
