import {stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {UsageError} from '../errors.js'
import {displayPath} from '../paths.js'
import {type VariableLookup} from './expand-variables.js'
import {PROFILE_FILE_NAME, type ProfileSecret, findNearestProfileFile, readRepositoryProfile} from './load-profile.js'
import {TrustStore} from './trust-store.js'

/** What the user allowed or denied, for the confirmation line and the audit log. */
export interface TrustDecision {
  file: string
  /** Undefined when a denied profile could not be read (a deny needs only the path). */
  fingerprint: string | undefined
  secrets: readonly ProfileSecret[]
  commands: ReadonlyMap<string, readonly string[]> | undefined
}

/**
 * `secure allow [PATH]`: pins the profile's current content at its current path. PATH is a profile
 * file or its directory; without it, the nearest `.secure.toml` upwards from `cwd`.
 */
export async function allowProfile(target: string | undefined, cwd: string, trustDirectory: string, lookupVariable: VariableLookup): Promise<TrustDecision> {
  const file = await resolveProfileTarget(target, cwd)
  const bundle = await readRepositoryProfile(file, lookupVariable)
  await new TrustStore(trustDirectory).allow(file, bundle.fingerprint)
  return {file, fingerprint: bundle.fingerprint, secrets: bundle.secrets, commands: bundle.settings.commands}
}

/** `secure deny [PATH]`: blocks the path whatever it contains, and forgets its allow. */
export async function denyProfile(target: string | undefined, cwd: string, trustDirectory: string, lookupVariable: VariableLookup): Promise<TrustDecision> {
  const file = await resolveProfileTarget(target, cwd)
  const bundle = await readRepositoryProfile(file, lookupVariable).catch(() => undefined)
  await new TrustStore(trustDirectory).deny(file, bundle?.fingerprint)
  return {file, fingerprint: bundle?.fingerprint, secrets: bundle?.secrets ?? [], commands: bundle?.settings.commands}
}

async function resolveProfileTarget(target: string | undefined, cwd: string): Promise<string> {
  if (target === undefined) {
    const found = await findNearestProfileFile(cwd)
    if (!found) throw new UsageError(`no ${PROFILE_FILE_NAME} here or in any parent directory`, {code: 'NO_PROFILE', hint: 'secure init writes one; or name the file: secure allow PATH'})
    return found
  }
  const path = resolve(cwd, target)
  const info = await stat(path).catch(() => undefined)
  if (!info) throw new UsageError(`${target}: no such file or directory`, {code: 'NO_PROFILE', hint: `name a ${PROFILE_FILE_NAME} file or the directory that holds it`})
  return info.isDirectory() ? join(path, PROFILE_FILE_NAME) : path
}

/** One line confirming a decision, naming what the profile gives to which command (names only). */
export function describeTrustDecision(verb: 'allowed' | 'denied', decision: TrustDecision, home: string): string {
  const file = displayPath(decision.file, home)
  if (verb === 'denied') return `secure: denied ${file}: it is ignored until you run secure allow`
  const names = decision.secrets.map((secret) => secret.name)
  const rules = decision.commands ? `; ${[...decision.commands].map(([program, given]) => `${program}: ${given.join(', ') || 'none'}`).join('; ')}` : ''
  return `secure: allowed ${file}: ${names.length > 0 ? names.join(', ') : 'no secrets yet'}${rules}`
}
