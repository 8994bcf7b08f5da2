import {EnvironmentError} from '../errors.js'
import {type ReferenceDialect, findReferenceProblem} from './reference.js'

/**
 * The one seam between `secure` and 1Password. An implementation is created once per run and
 * resolves every reference of the run in a single call; tests swap in {@link FakeSecretProvider}.
 */
export interface SecretProvider {
  /**
   * Resolves every reference in one round trip. Either every reference resolves, or it throws
   * {@link SecretResolutionError} naming each reference that failed: never a partial map.
   */
  resolveAll(references: readonly string[]): Promise<ReadonlyMap<string, string>>

  /**
   * The item-per-directory convention: the first of `titles` (in the order given) that names an
   * item in `vault`, with its fields, or undefined when none does. `vault` is a title or an ID.
   */
  findItem(vault: string, titles: readonly string[]): Promise<DirectoryItem | undefined>
}

/** A 1Password item found by title; its values are secrets. */
export interface DirectoryItem {
  /** The title that matched, for example `~/src/project`. */
  title: string
  /** Every field with a label, in the item's order. */
  fields: ReadonlyArray<{label: string; value: string}>
}

/** Why one reference did not resolve. The reason never contains a secret value. */
export interface ReferenceFailure {
  reference: string
  /** Short, lower-case reason: `item not found`, `field not found`, `vault not found`, … */
  reason: string
}

/** Some references did not resolve; the child must not start. */
export class SecretResolutionError extends EnvironmentError {
  readonly failures: readonly ReferenceFailure[]

  constructor(failures: readonly ReferenceFailure[]) {
    const listed = failures.map((failure) => `${failure.reference} (${failure.reason})`).join(', ')
    super(`cannot resolve ${failures.length === 1 ? 'secret reference' : `${failures.length} secret references`}: ${listed}`, {
      code: 'SECRET_UNRESOLVED',
      hint: 'check each reference in 1Password ("Copy Secret Reference" on the field), then fix the profile',
    })
    this.name = 'SecretResolutionError'
    this.failures = failures
  }
}

/** A provider backed by a map, for tests and benchmarks: it never reaches 1Password. */
export class FakeSecretProvider implements SecretProvider {
  /** How many times resolveAll was called, to check that a run resolves in one call. */
  resolveAllCalls = 0

  constructor(
    private readonly values: ReadonlyMap<string, string>,
    private readonly items: readonly (DirectoryItem & {vault: string})[] = [],
  ) {}

  async resolveAll(references: readonly string[]): Promise<ReadonlyMap<string, string>> {
    this.resolveAllCalls++
    const failures = references.filter((reference) => !this.values.has(reference))
    if (failures.length > 0) {
      throw new SecretResolutionError(failures.map((reference) => ({reference, reason: 'item not found'})))
    }
    return new Map(references.map((reference) => [reference, this.values.get(reference)!]))
  }

  async findItem(vault: string, titles: readonly string[]): Promise<DirectoryItem | undefined> {
    for (const title of titles) {
      const item = this.items.find((candidate) => candidate.vault === vault && candidate.title === title)
      if (item) return {title: item.title, fields: item.fields}
    }
    return undefined
  }
}

/**
 * Checks references offline before a provider sends anything: every typo is named at once, and no
 * reference can smuggle `}}` or a line break into an `op inject` template.
 */
export function verifyReferencesAreValid(references: readonly string[], dialect: ReferenceDialect): void {
  const invalid = references.flatMap((reference) => {
    const problem = findReferenceProblem(reference, dialect)
    return problem === undefined ? [] : [{reference, reason: `invalid reference: ${problem}`}]
  })
  if (invalid.length > 0) throw new SecretResolutionError(invalid)
}
