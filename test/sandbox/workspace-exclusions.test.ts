import {chmod, mkdir, symlink, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'

import {listWorkspaceExclusions} from '../../src/sandbox/workspace-exclusions.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** A repository holding `files` (path → content; a path ending in "/" is an empty directory). */
async function givenRepository(files: Record<string, string>): Promise<string> {
  const repository = await makeTempDir()
  await addFiles(repository, files)
  return repository
}

async function addFiles(directory: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) {
      await mkdir(join(directory, path), {recursive: true})
    } else {
      await mkdir(dirname(join(directory, path)), {recursive: true})
      await writeFile(join(directory, path), content)
    }
  }
}

describe('listWorkspaceExclusions', () => {
  it('excludes what the root .gitignore names, sorted, each path as tar names it', async () => {
    const repository = await givenRepository({
      '.gitignore': 'node_modules/\n*.log\n/dist\n',
      'node_modules/left-pad/index.js': '',
      'src/node_modules/local/index.js': '',
      'src/main.ts': '',
      'src/dist/keep.ts': '',
      'dist/bundle.js': '',
      'debug.log': '',
      'src/trace.log': '',
      // `node_modules/` names directories only.
      'lib/node_modules': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./debug.log', './dist', './node_modules', './src/node_modules', './src/trace.log'])
  })

  it('lists an ignored directory once, without its contents', async () => {
    const repository = await givenRepository({
      '.gitignore': 'cache/\n*.log\n',
      'cache/a/b/deep.log': '',
      'cache/a/c.txt': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./cache'])
  })

  it('anchors patterns with a leading or middle slash to the root, and lets the others match at any depth', async () => {
    const repository = await givenRepository({
      '.gitignore': '/root-only.txt\nanywhere.txt\ndocs/*.md\n**/tmp\n',
      'root-only.txt': '',
      'sub/root-only.txt': '',
      'anywhere.txt': '',
      'sub/deeper/anywhere.txt': '',
      'docs/guide.md': '',
      'docs/guide.txt': '',
      'sub/docs/guide.md': '',
      'sub/deeper/tmp/file': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./anywhere.txt', './docs/guide.md', './root-only.txt', './sub/deeper/anywhere.txt', './sub/deeper/tmp'])
  })

  it('reads a nested .gitignore relative to its own directory', async () => {
    const repository = await givenRepository({
      // `cache/ ` ends in a space git drops: still a slash-free, unanchored pattern.
      'packages/app/.gitignore': '# build output\n/out\ncache/ \nlib/*.js\n',
      'packages/app/out/index.js': '',
      'packages/app/src/out/index.js': '',
      'packages/out/index.js': '',
      'packages/app/src/cache/entry': '',
      'cache/entry': '',
      'packages/app/lib/index.js': '',
      'packages/app/lib/index.d.ts': '',
      // A comment is not a pattern, even in a nested file whose patterns get rewritten.
      'packages/app/# build output': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./packages/app/lib/index.js', './packages/app/out', './packages/app/src/cache'])
  })

  it('treats the name of the directory holding a .gitignore literally, even with glob characters', async () => {
    const repository = await givenRepository({
      'a[1]/.gitignore': 'x\n',
      'a[1]/x': '',
      'a1/x': '',
      '#notes/.gitignore': 'draft\n',
      '#notes/draft': '',
      '!bang/.gitignore': 'y\n',
      '!bang/y': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./!bang/y', './#notes/draft', './a[1]/x'])
  })

  it('lets a deeper .gitignore re-include what a shallower one ignored', async () => {
    const repository = await givenRepository({
      '.gitignore': '*.log\n',
      'sub/.gitignore': '!keep.log\n',
      'keep.log': '',
      'sub/keep.log': '',
      'sub/deeper/keep.log': '',
      'sub/other.log': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./keep.log', './sub/other.log'])
  })

  it('applies .secureignore last: it adds exclusions and re-includes what any .gitignore excluded', async () => {
    const repository = await givenRepository({
      '.gitignore': '*.log\n/dist\n',
      'sub/.gitignore': 'generated/\n',
      '.secureignore': 'fixtures/\n!important.log\n!/dist\n!generated/\n',
      'fixtures/big.bin': '',
      'important.log': '',
      'other.log': '',
      'dist/bundle.js': '',
      'dist/bundle.log': '',
      'sub/generated/code.ts': '',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual(['./dist/bundle.log', './fixtures', './other.log'])
  })

  it('keeps .git whatever .gitignore says, and does not look inside it', async () => {
    const repository = await givenRepository({
      '.gitignore': '.git\nobjects/\n*.pack\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/objects/pack/pack-1.pack': '',
      // A submodule's checkout names its git directory in a `.git` file.
      'vendor/lib/.git': 'gitdir: ../../.git/modules/lib\n',
    })
    expect(await listWorkspaceExclusions(repository)).toEqual([])
  })

  it('excludes .git when .secureignore names it', async () => {
    const repository = await givenRepository({'.secureignore': '.git\n', '.git/HEAD': 'ref: refs/heads/main\n', 'vendor/lib/.git': ''})
    expect(await listWorkspaceExclusions(repository)).toEqual(['./.git', './vendor/lib/.git'])
  })

  it('does not walk a symlink to a directory, and matches it as a file', async () => {
    const outside = await makeTempDir()
    await addFiles(outside, {'secret.log': '', 'node_modules/x.js': ''})
    const repository = await givenRepository({'.gitignore': '*.log\nnode_modules/\nlinked\n'})
    await symlink(outside, join(repository, 'link'))
    await symlink(join(outside, 'node_modules'), join(repository, 'node_modules'))
    await symlink(outside, join(repository, 'linked'))
    expect(await listWorkspaceExclusions(repository)).toEqual(['./linked'])
  })

  it.skipIf(process.getuid?.() === 0)('skips an unreadable directory instead of failing', async () => {
    const repository = await givenRepository({'.gitignore': '*.log\n', 'debug.log': '', 'locked/inner.log': ''})
    await chmod(join(repository, 'locked'), 0o000)
    // Give the permissions back, or the temporary directory could not be removed.
    onTestFinished(() => chmod(join(repository, 'locked'), 0o755))
    expect(await listWorkspaceExclusions(repository)).toEqual(['./debug.log'])
  })

  it('leaves out names tar cannot read back from its exclude file: a newline in them, or white space at their end', async () => {
    const repository = await givenRepository({'.gitignore': '*.log\ntrailing*\n', 'good.log': '', 'bad\nname.log': '', 'trailing ': '', 'trailing-ok': ''})
    expect(await listWorkspaceExclusions(repository)).toEqual(['./good.log', './trailing-ok'])
  })

  it('matches case-sensitively, as git does by default', async () => {
    const repository = await givenRepository({'.gitignore': 'Build/\n*.LOG\n', 'build/out.js': '', 'debug.log': '', 'Build/out.js': ''})
    expect(await listWorkspaceExclusions(repository)).toEqual(['./Build'])
  })

  it('excludes nothing without ignore files', async () => {
    const repository = await givenRepository({'node_modules/x/index.js': '', 'debug.log': '', 'src/main.ts': '', '.git/HEAD': ''})
    expect(await listWorkspaceExclusions(repository)).toEqual([])
  })

  it('fails for a missing repository', async () => {
    const parent = await makeTempDir()
    await expect(listWorkspaceExclusions(join(parent, 'missing'))).rejects.toMatchObject({code: 'ENOENT'})
  })
})
