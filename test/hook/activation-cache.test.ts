import {chmod, mkdir, readFile, readdir, stat, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {cacheActivation, cacheEntryPath, hookCacheRoot, prepareStampDirectory} from '../../src/hook/activation-cache.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** The cache root of a user whose secure files are under `base`. */
const rootUnder = (base: string) => hookCacheRoot({cacheDirectory: join(base, 'cache'), trustDirectory: join(base, 'trust'), configFile: join(base, 'config.toml'), home: base}, '1.2.3')
const profile = (content: string, fingerprint: string) => ({file: '/home/me/src/project/.secure.toml', fingerprint, content: Buffer.from(content)})
const first = 'a'.repeat(64)
const second = 'b'.repeat(64)

describe('the activation cache', () => {
  it('keeps an entry where the shell looks for it, naming a copy of the exact bytes, readable by the user alone', async () => {
    const root = rootUnder(await makeTempDir())
    await cacheActivation(root, 'posix', profile('[hook]\nexec = ["twine"]\n', first), (copy) => `__secure_next_copy='${copy}'\n`)
    const entry = cacheEntryPath(root, 'posix', '/home/me/src/project/.secure.toml')
    expect(entry).toBe(`${root}/posix/home/me/src/project/.secure.toml.activation`)
    const copy = join(root, 'posix/home/me/src/project', `.secure.toml.${first}`)
    expect(await readFile(entry, 'utf8')).toBe(`__secure_next_copy='${copy}'\n`)
    expect(await readFile(copy, 'utf8')).toBe('[hook]\nexec = ["twine"]\n')
    expect((await stat(root)).mode & 0o777).toBe(0o700)
    for (const file of [entry, copy]) expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('closes a root others could enter before using it, and forgets the copies of earlier versions', async () => {
    const root = rootUnder(await makeTempDir())
    await cacheActivation(root, 'fish', profile('one', first), () => 'entry one\n')
    await chmod(root, 0o755)
    await cacheActivation(root, 'fish', profile('two', second), () => 'entry two\n')
    expect((await stat(root)).mode & 0o777).toBe(0o700)
    expect((await readdir(join(root, 'fish/home/me/src/project'))).sort()).toEqual(['.secure.toml.activation', `.secure.toml.${second}`])
  })

  it('is one per version, and per place of the trust records, config and home it was decided with', async () => {
    const paths = {cacheDirectory: '/c', trustDirectory: '/t', configFile: '/f', home: '/h'}
    const roots = [hookCacheRoot(paths, '1.2.3'), hookCacheRoot(paths, '1.2.4'), hookCacheRoot({...paths, trustDirectory: '/u'}, '1.2.3'), hookCacheRoot({...paths, home: '/g'}, '1.2.3')]
    expect(new Set(roots).size).toBe(4)
    for (const root of roots) expect(root.startsWith('/c/hook/')).toBe(true)
  })

  it('writes nothing through a root that is a link to somewhere else', async () => {
    const base = await makeTempDir()
    const elsewhere = join(base, 'elsewhere')
    await mkdir(elsewhere)
    const root = join(base, 'root')
    await symlink(elsewhere, root)
    await cacheActivation(root, 'posix', profile('one', first), () => 'entry\n')
    expect(await readdir(elsewhere)).toEqual([])
  })

  it('keeps the shells\' stamps in XDG_RUNTIME_DIR when there is one, else in the cache, a directory per host', async () => {
    const base = await makeTempDir()
    const root = rootUnder(base)
    const runtime = join(base, 'run')
    expect(await prepareStampDirectory(root, runtime, 'laptop')).toBe(join(runtime, 'secure', 'hook-stamps'))
    expect(await prepareStampDirectory(root, undefined, 'laptop')).toBe(join(root, 'shells', 'laptop'))
    for (const directory of [join(runtime, 'secure'), root]) expect((await stat(directory)).mode & 0o777).toBe(0o700)
  })
})
