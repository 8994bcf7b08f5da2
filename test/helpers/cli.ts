import {lstat, mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {type ResultPromise, execa} from 'execa'
import {onTestFinished} from 'vitest'

import {type OpDoubleOptions, createOpDouble, opDoubleCommand} from './op-double.js'
import {makeTempDir} from './temp-dir.js'

/** The built CLI (`npm test` builds first). */
export const cliEntry = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * A user's machine in a temp dir: HOME, the XDG dirs, a repository at ~/src/project, the `op`
 * double configured as the provider, and an ambient GITHUB_TOKEN in the shell, as a maintainer has.
 */
export async function givenCliWorkspace(options: {op?: OpDoubleOptions; config?: string} = {}) {
  const root = await makeTempDir()
  const home = join(root, 'home')
  const repository = join(home, 'src', 'project')
  await mkdir(repository, {recursive: true})
  const op = await createOpDouble(options.op)
  onTestFinished(() => op.cleanup())
  const configFile = join(home, '.config', 'secure', 'config.toml')
  await mkdir(dirname(configFile), {recursive: true})
  await writeFile(configFile, options.config ?? `[onepassword]\nprovider = "op"\nop_path = "${opDoubleCommand}"\n`)
  const environment: Record<string, string> = {
    // The double's variables, its directory first on PATH; then this user's home, not the real one.
    ...(op.environment as Record<string, string>),
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    NO_COLOR: '1',
    GITHUB_TOKEN: 'ghp_ambientTokenThatMustNotLeak000000',
  }
  const run = (args: readonly string[], extra: {cwd?: string; env?: Record<string, string>} = {}) =>
    execa(process.execPath, [cliEntry, ...args], {cwd: extra.cwd ?? repository, env: {...environment, ...extra.env}, extendEnv: false, reject: false, stdin: 'ignore'})
  return {root, home, repository, op, configFile, environment, run}
}

/** Starts the CLI without waiting for it, for signal tests. */
export function startCli(workspace: Awaited<ReturnType<typeof givenCliWorkspace>>, args: readonly string[]): ResultPromise {
  return execa(process.execPath, [cliEntry, ...args], {cwd: workspace.repository, env: workspace.environment, extendEnv: false, reject: false, stdin: 'ignore', buffer: true})
}

/**
 * Every file under `directories` (recursively) modified since `since` whose bytes contain `value`:
 * where a secret would have been written to disk.
 */
export async function findFilesContaining(directories: readonly string[], value: string, since: number, exclude: readonly string[] = []): Promise<string[]> {
  const found: string[] = []
  const needle = Buffer.from(value)
  const visit = async (path: string): Promise<void> => {
    if (exclude.some((excluded) => path.startsWith(excluded))) return
    // lstat: a link is not followed, so a node_modules link elsewhere in /tmp is not searched.
    const info = await lstat(path).catch(() => undefined)
    if (!info) return
    if (info.isDirectory()) {
      for (const entry of await readdir(path).catch(() => [])) await visit(join(path, entry))
    } else if (info.isFile() && info.mtimeMs >= since && info.size < 64 * 1024 * 1024) {
      const content = await readFile(path).catch(() => Buffer.alloc(0))
      if (content.includes(needle)) found.push(path)
    }
  }
  for (const directory of directories) await visit(directory)
  return found
}

export {tmpdir}
