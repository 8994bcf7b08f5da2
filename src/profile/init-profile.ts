import {access, copyFile, constants} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {BugError, UsageError} from '../errors.js'
import {PROFILE_FILE_NAME} from './load-profile.js'

/** `secure init`: writes the starter profile into `directory`; never overwrites without `force`. */
export async function writeStarterProfile(directory: string, force: boolean): Promise<string> {
  const file = join(directory, PROFILE_FILE_NAME)
  try {
    await copyFile(join(await findPackageRoot(), 'templates', 'profile.toml'), file, force ? 0 : constants.COPYFILE_EXCL)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${file} already exists`, {code: 'PROFILE_EXISTS', hint: 'edit it, or run secure init --force to replace it with the starter profile'})
    }
    throw error
  }
  return file
}

/**
 * The directory of secure's package.json, which ships `templates/`. Searched for rather than fixed:
 * this module sits at a different depth in src/ than in the bundle in dist/.
 */
async function findPackageRoot(): Promise<string> {
  for (let directory = dirname(fileURLToPath(import.meta.url)); ; directory = dirname(directory)) {
    if (await access(join(directory, 'package.json')).then(() => true, () => false)) return directory
    if (dirname(directory) === directory) {
      throw new BugError('cannot find secure\'s own package.json', {code: 'PACKAGE_ROOT_NOT_FOUND', hint: 'reinstall secure'})
    }
  }
}
