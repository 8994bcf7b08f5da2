import {tmpdir} from 'node:os'
import {execa} from 'execa'

import {EnvironmentError} from '../errors.js'

/**
 * What `<program> --version` prints (npm: `11.19.1`), or undefined when the program is not on PATH:
 * checked before the build, so a missing uploader never costs a build and a review. It runs in the
 * temp folder, so no project's settings (an `.npmrc` in the checkout) join in.
 */
export async function readProgramVersion(program: string, environment: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  try {
    const {stdout} = await execa(program, ['--version'], {cwd: tmpdir(), env: environment, extendEnv: false, stdin: 'ignore', timeout: 60_000})
    return stdout.trim()
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') return undefined
    throw new EnvironmentError(`${program} --version failed: ${String((error as {shortMessage?: string}).shortMessage ?? error)}`, {
      code: 'PUBLISH_UPLOADER_BROKEN',
      hint: `check that ${program} runs on this machine`,
      cause: error,
    })
  }
}

/** The error for an upload program that is not on PATH. */
export function missingUploader(program: string, install: string): EnvironmentError {
  return new EnvironmentError(`secure publish uploads with ${program}, which is not on PATH`, {code: 'PUBLISH_UPLOADER_MISSING', hint: install})
}
