import {mkdtemp, realpath, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {onTestFinished} from 'vitest'

/** A fresh real directory (symlinks resolved, as process.cwd() reports it), removed after the test. */
export async function makeTempDir(prefix = 'secure-test-'): Promise<string> {
  const directory = await realpath(await mkdtemp(join(tmpdir(), prefix)))
  onTestFinished(() => rm(directory, {recursive: true, force: true}))
  return directory
}
