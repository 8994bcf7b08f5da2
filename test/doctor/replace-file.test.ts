import {readFile, readdir, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {replaceFileAtomically} from '../../src/doctor/replace-file.js'
import {makeTempDir} from '../helpers/temp-dir.js'

describe('replaceFileAtomically', () => {
  it('keeps the old file, and leaves no temporary file, when the check of the new one fails', async () => {
    const directory = await makeTempDir()
    const file = join(directory, 'config.toml')
    await writeFile(file, 'old\n', {mode: 0o640})

    const refused = replaceFileAtomically(file, 'new\n', {
      expected: 'old\n',
      newFileMode: 0o600,
      shownAs: 'config.toml',
      verify: async (temporary) => {
        expect(await readFile(temporary, 'utf8')).toBe('new\n')
        expect((await stat(temporary)).mode & 0o777).toBe(0o640)
        throw new Error('not what was meant')
      },
    })

    await expect(refused).rejects.toThrow('not what was meant')
    expect(await readFile(file, 'utf8')).toBe('old\n')
    expect(await readdir(directory)).toEqual(['config.toml'])
  })

  it('creates a missing file, and its directory, with the mode given', async () => {
    const directory = await makeTempDir()
    const file = join(directory, 'secure', 'config.toml')

    await replaceFileAtomically(file, 'new\n', {expected: undefined, newFileMode: 0o600, shownAs: 'config.toml'})

    expect(await readFile(file, 'utf8')).toBe('new\n')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('refuses to replace a file that does not hold what it was expected to', async () => {
    const directory = await makeTempDir()
    const file = join(directory, '.npmrc')
    await writeFile(file, 'edited meanwhile\n')

    await expect(replaceFileAtomically(file, 'new\n', {expected: 'as read\n', newFileMode: 0o600, shownAs: '~/.npmrc'})).rejects.toMatchObject({code: 'DOCTOR_FILE_CHANGED'})
    expect(await readFile(file, 'utf8')).toBe('edited meanwhile\n')
    expect(await readdir(directory)).toEqual(['.npmrc'])
  })
})
