/**
 * Offline checks of 1Password secret references, so a typo is reported by name before any network
 * call. The grammar is the one `@1password/sdk` accepts (shared/reference/onepassword.md §2.3),
 * checked here without loading the SDK's 14 MB WebAssembly core; the `op` CLI accepts a superset.
 */

/** Which client will resolve the reference: the SDK's grammar is a strict subset of the CLI's. */
export type ReferenceDialect = 'sdk' | 'op'

const PREFIX = 'op://'
const SEGMENT = /^[A-Za-z0-9_.\- ]+$/
const SDK_QUERIES = new Set(['attribute=otp', 'attribute=totp', 'ssh-format=openssh'])
const OP_ATTRIBUTES = new Set(['type', 'value', 'id', 'purpose', 'otp', 'totp', 'content', 'size', 'name'])

/** True when `value` is meant as a secret reference (it starts with `op://`). */
export function isSecretReference(value: string): boolean {
  return value.startsWith(PREFIX)
}

/**
 * Why `reference` is not a valid secret reference, or undefined when it is.
 * The reason is safe to print: a reference names where a secret is, never what it is.
 */
export function findReferenceProblem(reference: string, dialect: ReferenceDialect = 'sdk'): string | undefined {
  if (!reference.startsWith(PREFIX)) return 'must start with "op://"'
  const [path = '', query, ...extraQueries] = reference.slice(PREFIX.length).split('?')
  if (extraQueries.length > 0) return 'has more than one "?"'
  // A trailing slash is accepted by both clients.
  const segments = path.replace(/\/$/, '').split('/')
  if (segments.length < 3 || segments.length > 4) return 'must be op://vault/item/[section/]field'
  for (const segment of segments) {
    if (segment.trim() === '') return 'has an empty vault, item, section or field name'
    if (!SEGMENT.test(segment)) {
      return `"${segment}" has a character 1Password does not allow in references (use the ID instead)`
    }
  }
  if (query === undefined) return undefined
  if (dialect === 'sdk') {
    return SDK_QUERIES.has(query) ? undefined : `query "?${query}" is not one of ?attribute=otp, ?attribute=totp, ?ssh-format=openssh`
  }
  const [key, value = ''] = query.split('=')
  if ((key === 'attribute' || key === 'attr') && OP_ATTRIBUTES.has(value.toLowerCase())) return undefined
  if (key === 'ssh-format' && value.toLowerCase() === 'openssh') return undefined
  return `query "?${query}" is not a known attribute`
}
