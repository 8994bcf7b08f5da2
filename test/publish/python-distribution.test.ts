import {createGzip} from 'node:zlib'
import {buffer} from 'node:stream/consumers'
import {strToU8, zipSync} from 'fflate'
import {pack} from 'tar-stream'
import {describe, expect, it} from 'vitest'

import {describePythonRelease, readPythonDistribution} from '../../src/publish/python-distribution.js'

/** A wheel as setuptools lays one out: modules at the root, metadata in `<name>-<version>.dist-info/`. */
function wheel(version: string, files: Record<string, string>, entryPoints?: string): Buffer {
  const info = `demo-${version}.dist-info`
  return Buffer.from(
    zipSync({
      'demo.py': strToU8('ANSWER = 42\n'),
      [`${info}/METADATA`]: strToU8(`Metadata-Version: 2.1\nName: demo\nVersion: ${version}\n`),
      [`${info}/RECORD`]: strToU8(''),
      ...(entryPoints ? {[`${info}/entry_points.txt`]: strToU8(entryPoints)} : {}),
      ...Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)])),
    }),
  )
}

/** An sdist: everything under `<name>-<version>/`. */
async function sdist(version: string, files: Record<string, string>): Promise<Buffer> {
  const archive = pack()
  for (const [path, text] of Object.entries({'pyproject.toml': '[project]\nname = "demo"\n', 'demo.py': 'ANSWER = 42\n', ...files})) archive.entry({name: `demo-${version}/${path}`}, text)
  archive.finalize()
  return buffer(archive.pipe(createGzip()))
}

async function distributions(version: string, wheelFiles: Record<string, string>, entryPoints?: string, sdistFiles: Record<string, string> = {}) {
  const bytes = {[`demo-${version}-py3-none-any.whl`]: wheel(version, wheelFiles, entryPoints), [`demo-${version}.tar.gz`]: await sdist(version, sdistFiles)}
  return Promise.all(Object.entries(bytes).map(async ([filename, content]) => ({...(await readPythonDistribution(content, filename, version)), size: content.length, sha256: 'ab'.repeat(32)})))
}

describe('the review of a Python release', () => {
  it('lists the files inside every distribution, and a .pth file that would run at every Python start', async () => {
    const built = await distributions('1.0.0', {'demo-init.pth': 'import demo\n'})

    const lines = describePythonRelease({name: 'demo', version: '1.0.0'}, built, undefined)

    expect(lines[0]).toBe('demo 1.0.0: 2 distribution files')
    expect(lines).toContainEqual(expect.stringMatching(/^ {6}\s*\d+ B {2}demo-1\.0\.0\.dist-info\/METADATA$/))
    expect(lines).toContainEqual(expect.stringMatching(/^ {6}\s*\d+ B {2}pyproject\.toml$/))
    expect(lines).toContain('      RUNS AT EVERY PYTHON START: demo-init.pth')
    expect(lines.at(-1)).toBe('first release: nothing published to compare with')
  })

  it('shows, per kind of distribution, new files that run on install, new commands and dropped distributions', async () => {
    const before = await distributions('1.0.0', {}, '[console_scripts]\ndemo = demo:main\n')
    const after = (await distributions('1.1.0', {'zz-hook.pth': 'import os\n', 'demo-1.1.0.data/scripts/helper': '#!/bin/sh\n'}, '[console_scripts]\ndemo = demo:other\npip = demo:evil\n', {'setup.py': 'import os\n'})).filter(
      (distribution) => distribution.kind === 'py3-none-any',
    )

    const lines = describePythonRelease({name: 'demo', version: '1.1.0'}, after, {version: '1.0.0', distributions: before})

    expect(lines.slice(lines.indexOf('changes since 1.0.0:') + 1)).toEqual([
      '  NEW FILE THAT RUNS ON INSTALL  demo-1.1.0.data/scripts/helper (py3-none-any)',
      '  NEW FILE THAT RUNS ON INSTALL  zz-hook.pth (py3-none-any)',
      '  CHANGED COMMAND demo -> demo:other (py3-none-any)',
      '  NEW COMMAND pip -> demo:evil (py3-none-any)',
      '  dropped distribution  sdist',
    ])
  })

  it('sees no change where only the version moved', async () => {
    const lines = describePythonRelease({name: 'demo', version: '1.0.1'}, await distributions('1.0.1', {}), {version: '1.0.0', distributions: await distributions('1.0.0', {})})

    expect(lines.at(-1)).toBe('  no new or removed distributions, files or commands')
  })

  it('refuses bytes that are not a distribution, in one line', async () => {
    await expect(readPythonDistribution(Buffer.from('not a zip'), 'demo-1.0.0-py3-none-any.whl', '1.0.0')).rejects.toThrow(/^demo-1\.0\.0-py3-none-any\.whl is not a readable distribution \(/)
  })
})
