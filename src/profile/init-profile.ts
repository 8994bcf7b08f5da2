import {copyFile, constants} from 'node:fs/promises'
import {join} from 'node:path'

import {UsageError} from '../errors.js'
import {findPackageRoot} from '../paths.js'
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
