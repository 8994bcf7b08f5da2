import {EnvironmentError, UsageError} from '../errors.js'
import {type ProfileSecret} from '../profile/load-profile.js'
import {renderSecretTemplate} from '../profile/secret-template.js'
import {type DirectoryItem, type SecretProvider, SecretResolutionError} from '../secrets/provider.js'
import {type ReferenceDialect, findReferenceProblem} from '../secrets/reference.js'

/**
 * Every invalid reference among `secrets`, as `NAME (origin): problem`, found offline before any
 * network call so that each typo is reported by name.
 */
export function findInvalidReferences(secrets: readonly ProfileSecret[], dialect: ReferenceDialect): string[] {
  return secrets.flatMap((secret) =>
    secret.template.references.flatMap((reference) => {
      const problem = findReferenceProblem(reference, dialect)
      return problem ? [`${secret.name} (${secret.origin}): ${reference} ${problem}`] : []
    }),
  )
}

/**
 * Resolves the selected secrets with ONE provider call and fills in their templates. Either every
 * secret resolves or this throws: the child never starts with a partial set.
 */
export async function resolveSecrets(secrets: readonly ProfileSecret[], provider: () => Promise<SecretProvider>, dialect: ReferenceDialect): Promise<Map<string, string>> {
  const invalid = findInvalidReferences(secrets, dialect)
  if (invalid.length > 0) {
    throw new UsageError(`invalid secret reference${invalid.length > 1 ? 's' : ''}: ${invalid.join('; ')}`, {
      code: 'REFERENCE_INVALID',
      hint: 'references look like op://vault/item/field; copy one with "Copy Secret Reference" in 1Password',
    })
  }
  const references = [...new Set(secrets.flatMap((secret) => secret.template.references))]
  let values: ReadonlyMap<string, string> = new Map()
  if (references.length > 0) {
    try {
      values = await (await provider()).resolveAll(references)
    } catch (error) {
      if (error instanceof SecretResolutionError) throw nameFailures(error, secrets)
      throw error
    }
  }
  return new Map(secrets.map((secret) => [secret.name, renderSecretTemplate(secret.template, values)]))
}

/** Restates a provider's failures with the names the user wrote, which they know better than references. */
function nameFailures(error: SecretResolutionError, secrets: readonly ProfileSecret[]): EnvironmentError {
  const described = error.failures.map((failure) => {
    const names = secrets.filter((secret) => secret.template.references.includes(failure.reference)).map((secret) => secret.name)
    return `${names.join(', ')} = ${failure.reference} (${failure.reason})`
  })
  return new EnvironmentError(`cannot resolve ${described.join('; ')}`, {code: error.code, hint: error.hint, cause: error})
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const ITEM_VARS_LABELS = new Set(['vars', 'notesPlain'])

/**
 * The secrets an item-per-directory item holds: each field labelled with a variable name, and the
 * `NAME=value` lines of a `vars` field or the notes (the opvars convention), taken verbatim.
 */
export function secretsFromDirectoryItem(item: DirectoryItem): ProfileSecret[] {
  const secrets = new Map<string, ProfileSecret>()
  const add = (name: string, value: string) =>
    secrets.set(name, {name, template: {parts: [{literal: value}], references: []}, origin: `1Password item "${item.title}"`})
  for (const field of item.fields) {
    if (ITEM_VARS_LABELS.has(field.label)) {
      for (const line of field.value.split(/\r?\n/)) {
        const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
        if (match) add(match[1]!, match[2]!)
      }
    } else if (VARIABLE_NAME.test(field.label)) {
      add(field.label, field.value)
    }
  }
  return [...secrets.values()]
}

