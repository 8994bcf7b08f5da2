import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'

import {EnvironmentError} from '../errors.js'
import {type VerifiedProvenance} from './provenance.js'

/** What `secure watch` remembers between runs. */
export interface WatchState {
  /** Alarms already reported, so each alarms once. */
  reported: Set<string>
  /**
   * Provenance already verified, by package, version and integrity: published bytes never change,
   * so a version's attestations are fetched and checked once, not on every run.
   */
  verified: Map<string, VerifiedProvenance>
}

/** Reads the state; a missing file is a first run. */
export async function readWatchState(path: string): Promise<WatchState> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {reported: new Set(), verified: new Map()}
    throw unreadable(path, error)
  }
  try {
    const data = JSON.parse(text) as {reported?: string[]; verified?: Record<string, VerifiedProvenance>}
    return {reported: new Set(data.reported ?? []), verified: new Map(Object.entries(data.verified ?? {}))}
  } catch (error) {
    throw unreadable(path, error)
  }
}

/** Writes the state whole, then renames it into place: a watch killed midway leaves the old state, never half of one. */
export async function writeWatchState(path: string, state: WatchState): Promise<void> {
  await mkdir(dirname(path), {recursive: true})
  const data = {reported: [...state.reported].sort(), verified: Object.fromEntries([...state.verified].sort(([a], [b]) => (a < b ? -1 : 1)))}
  await writeFile(`${path}.tmp`, `${JSON.stringify(data, undefined, 2)}\n`, {mode: 0o600})
  await rename(`${path}.tmp`, path)
}

function unreadable(path: string, error: unknown): EnvironmentError {
  return new EnvironmentError(`cannot read ${path}: ${(error as Error).message.split('\n')[0]}`, {
    code: 'WATCH_STATE_UNREADABLE',
    hint: 'move the file away (every alarm is then reported once more) and run secure watch again',
    cause: error,
  })
}
