/**
 * `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME-default}` expansion with the rules of
 * `op run --env-file`: one pass, no re-expansion of what was substituted, `\$` for a literal `$`.
 * (dotenv-expand differs on all three, which is why this is not delegated to it.)
 */
const VARIABLE = /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g

/** Looks a variable up; undefined when it is not set. */
export type VariableLookup = (name: string) => string | undefined

/** Expands the variables in `text`; an unset variable without a default becomes empty. */
export function expandVariables(text: string, lookup: VariableLookup): string {
  return text.replace(VARIABLE, (match, bracedName?: string, operator?: string, fallback?: string, bareName?: string) => {
    if (match === '\\$') return '$'
    const value = lookup((bracedName ?? bareName)!)
    if (operator === ':-') return value ? value : fallback ?? ''
    if (operator === '-') return value ?? fallback ?? ''
    return value ?? ''
  })
}
