import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The directory holding the `op` test double; put it first on PATH to stand in for the real CLI. */
export const opDoubleDirectory = fileURLToPath(new URL('../fixtures/bin', import.meta.url))
/** The absolute path of the `op` test double, for `opCommand`. */
export const opDoubleCommand = join(opDoubleDirectory, 'op')
/** The sample data in test/fixtures/op-vault.json. */
export const sampleVaultFile = fileURLToPath(new URL('../fixtures/op-vault.json', import.meta.url))

/** The data the double serves, in the shape of test/fixtures/op-vault.json. */
export interface OpDoubleVaults {
  vaults: Array<{
    id: string
    name: string
    items: Array<{
      id: string
      title: string
      category?: string
      notesPlain?: string
      fields: Array<{id: string; label?: string; value?: string; type?: string; purpose?: string; section?: {id: string; label?: string}}>
    }>
  }>
}

/** How the double should misbehave (test/fixtures/bin/op documents each mode). */
export type OpDoubleFailure =
  | 'not-signed-in'
  | 'no-accounts'
  | 'account-not-signed-in'
  | 'bad-token'
  | 'rate-limit'
  | 'no-network'
  | 'unexpected'
  | 'hang'

export interface OpDoubleOptions {
  /** The data to serve; default test/fixtures/op-vault.json. */
  vaults?: OpDoubleVaults
  /** Make every call (or only `failCommands`) fail this way. */
  fail?: OpDoubleFailure
  /** The commands `fail` applies to: `inject`, `read`, `item`, `vault`, or one such as `item create`. Default all. */
  failCommands?: ReadonlyArray<'inject' | 'read' | 'item' | 'vault' | 'item create'>
  /** The environment to start from (for PATH and HOME); default process.env. */
  baseEnvironment?: Readonly<Record<string, string | undefined>>
}

export interface OpDouble {
  /** The environment to run `op` with: the double first on PATH, pointed at this double's files. */
  environment: Record<string, string | undefined>
  /** Where each invocation's argv is appended, one JSON array per line. */
  callsFile: string
  /** The vault JSON the double serves; `op item create` adds to it. */
  vaultFile: string
  /** Every argv the double was started with so far, in order. */
  calls(): Promise<string[][]>
  /** Removes the temporary directory. */
  cleanup(): Promise<void>
}

/**
 * Sets up the `op` test double in a fresh temporary directory: writes the vault JSON, and returns
 * the environment variables that point the double at it (OP_DOUBLE_VAULT, OP_DOUBLE_CALLS,
 * OP_DOUBLE_FAIL, OP_DOUBLE_FAIL_COMMANDS) with the double's directory first on PATH.
 */
export async function createOpDouble(options: OpDoubleOptions = {}): Promise<OpDouble> {
  const directory = await mkdtemp(join(tmpdir(), 'secure-op-double-'))
  const vaultFile = join(directory, 'vaults.json')
  const callsFile = join(directory, 'calls.jsonl')
  const vaults = options.vaults ?? (JSON.parse(await readFile(sampleVaultFile, 'utf8')) as OpDoubleVaults)
  await writeFile(vaultFile, JSON.stringify(vaults))
  await writeFile(callsFile, '')
  const base = options.baseEnvironment ?? process.env
  const environment: Record<string, string | undefined> = {
    PATH: [opDoubleDirectory, base.PATH].filter(Boolean).join(delimiter),
    HOME: base.HOME,
    OP_DOUBLE_VAULT: vaultFile,
    OP_DOUBLE_CALLS: callsFile,
  }
  if (options.fail !== undefined) environment.OP_DOUBLE_FAIL = options.fail
  if (options.failCommands !== undefined) environment.OP_DOUBLE_FAIL_COMMANDS = options.failCommands.join(',')
  return {
    environment,
    callsFile,
    vaultFile,
    async calls() {
      const text = await readFile(callsFile, 'utf8')
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as string[])
    },
    async cleanup() {
      await rm(directory, {recursive: true, force: true})
    },
  }
}
