import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {detectImageChoice, parseImageChoice} from '../../src/sandbox/image-catalog.js'
import {makeTempDir} from '../helpers/temp-dir.js'

async function givenRepository(files: Record<string, string>): Promise<string> {
  const directory = await makeTempDir()
  for (const [name, content] of Object.entries(files)) await writeFile(join(directory, name), content)
  return directory
}

describe('detectImageChoice: the image a repository calls for', () => {
  it.each([
    [{'package.json': '{}'}, 'localhost/secure/node:24'],
    [{'package.json': '{"engines": {"node": ">=18 <23"}}'}, 'localhost/secure/node:22'],
    [{'package.json': '{"engines": {"node": "^22 || ^24 || ^26"}}'}, 'localhost/secure/node:26'],
    [{'package.json': '{"engines": {"node": ">=12 <16"}}'}, 'localhost/secure/node:24'],
    [{'package.json': '{}', '.nvmrc': 'v22.11.0\n'}, 'localhost/secure/node:22'],
    [{'package.json': '{}', '.nvmrc': 'lts/*\n'}, 'localhost/secure/node:24'],
    [{'package.json': 'not json'}, 'localhost/secure/node:24'],
    [{'pyproject.toml': '[project]\n'}, 'localhost/secure/python:3.11-3.13'],
    [{'tox.ini': '[tox]\n'}, 'localhost/secure/python:3.11-3.13'],
    [{'Cargo.toml': '[package]\n'}, 'localhost/secure/rust:1.85'],
    // A Python package with a Rust extension (maturin) runs its Python suite.
    [{'Cargo.toml': '[package]\n', 'pyproject.toml': '[project]\n'}, 'localhost/secure/python:3.11-3.13'],
    [{'Makefile': 'test:\n'}, 'localhost/secure/base:bookworm'],
  ])('%o → %s', async (files, tag) => {
    expect((await detectImageChoice(await givenRepository(files))).tag).toBe(tag)
  })

  it('says why it chose, for the line secure run prints when it builds', async () => {
    const choice = await detectImageChoice(await givenRepository({'package.json': '{"engines": {"node": "22.x"}}'}))
    expect(choice.reason).toBe('found package.json; engines.node in package.json allows Node 22')
  })
})

describe('parseImageChoice: an image name as the user writes it', () => {
  it('reads template names and secure tags, with the default variant', () => {
    expect(parseImageChoice('node')?.tag).toBe('localhost/secure/node:24')
    expect(parseImageChoice('node:26')?.tag).toBe('localhost/secure/node:26')
    expect(parseImageChoice('localhost/secure/python:3.11-3.13')?.template).toBe('python')
    expect(parseImageChoice('base')?.tag).toBe('localhost/secure/base:bookworm')
    expect(parseImageChoice('rust')?.tag).toBe('localhost/secure/rust:1.85')
  })

  it('leaves other images alone', () => {
    expect(parseImageChoice('debian:bookworm-slim')).toBeUndefined()
    expect(parseImageChoice('ghcr.io/me/ci:1')).toBeUndefined()
  })

  it('refuses a variant secure has no template for, naming the ones it has', () => {
    expect(() => parseImageChoice('node:18')).toThrow(/there is no node image "node:18"/)
  })
})
