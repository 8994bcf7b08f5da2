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

  /** The vaults this account can see (a service account: the ones it was granted), to store a new item in. */
  listVaults(): Promise<readonly VaultSummary[]>

  /**
   * Stores a secret as a new item (`secure doctor --fix` moving a token out of a file) and returns
   * the references of what it stored, by ID: `op://<vault id>/<item id>/<field id>`. Nothing is
   * read back here; the caller resolves the references to prove the item holds the value.
   */
  createItem(item: NewItem): Promise<CreatedItem>
}

/** A vault, by ID and by the title the user knows it by. */
export interface VaultSummary {
  id: string
  title: string
}

/** What {@link SecretProvider.createItem} stores: a Password item. */
export interface NewItem {
  vaultId: string
  title: string
  /** The secret: the item's concealed password field. */
  secret: string
  /** What belongs with the secret but is not one (an AWS access key ID): text fields in a section `details`. */
  details?: ReadonlyArray<{label: string; value: string}>
}

/** The references of a {@link NewItem}'s fields. */
export interface CreatedItem {
  /** The password field. */
  secretReference: string
  /** One per detail, in the order given. */
  detailReferences: readonly string[]
}

/** The field ID of a detail: its label in lower case, runs of other characters as `_` (`access key id` → `access_key_id`). */
export function detailFieldId(label: string): string {
  return label.toLowerCase().replaceAll(/[^a-z0-9]+/g, '_')
}

/** The section a {@link NewItem}'s details go in: custom fields outside a section are refused by the SDK. */
export const DETAILS_SECTION = 'details'

/**
 * The references of a newly created item, from the field IDs 1Password reports for it (each field
 * found by the ID it was created with, else by its label). A field it did not report is an error:
 * the item cannot be referenced, so nothing may be changed on its account.
 */
export function createdItemReferences(item: NewItem, vaultId: string, itemId: string, fields: ReadonlyArray<{id: string; label: string}>): CreatedItem {
  const referenceTo = (id: string, label: string) => {
    const field = fields.find((candidate) => candidate.id === id) ?? fields.find((candidate) => candidate.label === label)
    if (field === undefined) {
      throw new EnvironmentError(`1Password created the item "${item.title}" but did not report its field "${label}"`, {
        code: 'OP_FAILED',
        hint: 'look at the item in 1Password, delete it, and try again (or set provider to the other one of "sdk" and "op")',
      })
    }
    return referenceById(vaultId, itemId, field.id)
  }
  return {
    secretReference: referenceTo('password', 'password'),
    detailReferences: (item.details ?? []).map((detail) => referenceTo(detailFieldId(detail.label), detail.label)),
  }
}

/** A reference by IDs only: valid in both grammars whatever the titles hold, and stable when they are renamed. */
export function referenceById(vaultId: string, itemId: string, fieldId: string): string {
  return `op://${vaultId}/${itemId}/${fieldId}`
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
  /** Every item createItem stored, in order: the fake 1Password's contents. */
  readonly createdItems: Array<NewItem & CreatedItem> = []
  private readonly values: Map<string, string>

  constructor(
    values: ReadonlyMap<string, string>,
    private readonly items: readonly (DirectoryItem & {vault: string})[] = [],
    private readonly vaults: readonly VaultSummary[] = [{id: 'fakevaultprivate0000000000', title: 'Private'}],
  ) {
    this.values = new Map(values)
  }

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

  async listVaults(): Promise<readonly VaultSummary[]> {
    return this.vaults
  }

  async createItem(item: NewItem): Promise<CreatedItem> {
    if (!this.vaults.some((vault) => vault.id === item.vaultId)) {
      throw new EnvironmentError(`1Password vault "${item.vaultId}" not found`, {code: 'OP_VAULT_NOT_FOUND', hint: 'pick one of the vaults listVaults returns'})
    }
    const itemId = `fakeitem${String(this.createdItems.length + 1).padStart(18, '0')}`
    const secretReference = referenceById(item.vaultId, itemId, 'password')
    this.values.set(secretReference, item.secret)
    const detailReferences = (item.details ?? []).map((detail) => {
      const reference = referenceById(item.vaultId, itemId, detailFieldId(detail.label))
      this.values.set(reference, detail.value)
      return reference
    })
    const created = {secretReference, detailReferences}
    this.createdItems.push({...item, ...created})
    return created
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
