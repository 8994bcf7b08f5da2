import {isSecretReference} from '../secrets/reference.js'

/**
 * A secret's value as written in a profile: either one reference (`op://vault/item/field`) or text
 * with references in it (`postgres://me:{{ op://db/prod/password }}@host/db`), as `op run` and
 * `op inject` accept them (shared/reference/onepassword.md §3.3).
 */
export interface SecretTemplate {
  /** Literal text and references, in order. */
  parts: ReadonlyArray<{literal: string} | {reference: string}>
  /** Every reference in the template, once each. */
  references: readonly string[]
}

const ENCLOSED = /\{\{\s*(op:\/\/[^}]*?)\s*\}\}/g
// An unenclosed reference is not preceded by an alphanumeric or -+\. and ends at the first character
// that cannot be part of one (no spaces: a name with spaces must be enclosed).
const UNENCLOSED = /(?<![A-Za-z0-9\-+\\.])op:\/\/[A-Za-z0-9\-_.?=/]+/g

/** Splits a written value into literal text and references. */
export function parseSecretTemplate(value: string): SecretTemplate {
  const trimmed = value.trim()
  // The whole value is one reference; it may contain spaces (`op://My Vault/My Item/password`).
  // A near miss (`OP://…`, `op:/…`) is taken as a reference too, so that checking it reports the
  // typo instead of handing the command the text itself.
  if ((isSecretReference(trimmed) || /^op:/i.test(trimmed)) && !trimmed.includes('{{')) {
    return {parts: [{reference: trimmed}], references: [trimmed]}
  }
  const parts: Array<{literal: string} | {reference: string}> = []
  const addLiteral = (text: string) => {
    let last = 0
    for (const match of text.matchAll(UNENCLOSED)) {
      if (match.index > last) parts.push({literal: text.slice(last, match.index)})
      parts.push({reference: match[0]})
      last = match.index + match[0].length
    }
    if (last < text.length) parts.push({literal: text.slice(last)})
  }
  let last = 0
  for (const match of value.matchAll(ENCLOSED)) {
    addLiteral(value.slice(last, match.index))
    parts.push({reference: match[1]!})
    last = match.index + match[0].length
  }
  addLiteral(value.slice(last))
  const references = [...new Set(parts.flatMap((part) => ('reference' in part ? [part.reference] : [])))]
  return {parts, references}
}

/** Fills a template with resolved values. Every reference must be in `values`. */
export function renderSecretTemplate(template: SecretTemplate, values: ReadonlyMap<string, string>): string {
  return template.parts.map((part) => ('literal' in part ? part.literal : values.get(part.reference)!)).join('')
}
