import {type VariableLookup, expandVariables} from './expand-variables.js'

/** One `NAME=value` assignment of an env file, after quote handling and variable expansion. */
export interface EnvFileEntry {
  name: string
  value: string
  /** 1-based line where the assignment starts, for error messages. */
  line: number
}

/** An env file that cannot be read as `op run --env-file` would read it. */
export class EnvFileSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`)
    this.name = 'EnvFileSyntaxError'
  }
}

const ASSIGNMENT = /^\s*(?:export\s+)?([^\s=#]+)\s*=\s*(.*)$/
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\'}

/**
 * Reads an env file with the syntax of `op run --env-file` (dotenv): `NAME=value` lines, `#`
 * comments (also after an unquoted value), blank lines, an optional `export`, single quotes
 * (literal), double quotes (escapes, may span lines) and `$VAR`/`${VAR:-default}` expansion from
 * earlier names of the same file, then `lookup`. Values are returned as written, references and
 * `{{ op://… }}` templates included: resolving them is the caller's business.
 */
export function parseEnvFile(text: string, lookup: VariableLookup): EnvFileEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const entries: EnvFileEntry[] = []
  const earlier = new Map<string, string>()
  const expand = (value: string) => expandVariables(value, (name) => earlier.get(name) ?? lookup(name))

  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1
    const line = lines[index]!
    if (/^\s*(#|$)/.test(line)) continue
    const assignment = ASSIGNMENT.exec(line)
    if (!assignment) throw new EnvFileSyntaxError(lineNumber, 'expected NAME=value')
    const [, name, rest] = assignment as unknown as [string, string, string]
    if (!NAME.test(name)) throw new EnvFileSyntaxError(lineNumber, `"${name}" is not a valid variable name`)

    let value: string
    const quote = rest[0]
    if (quote === '"' || quote === "'") {
      // A quoted value may continue over the following lines until its closing quote.
      let raw = rest.slice(1)
      let closing = findClosingQuote(raw, quote)
      while (closing < 0 && index + 1 < lines.length) {
        raw += `\n${lines[++index]}`
        closing = findClosingQuote(raw, quote)
      }
      if (closing < 0) throw new EnvFileSyntaxError(lineNumber, `the ${quote === '"' ? 'double' : 'single'} quote is never closed`)
      const trailing = raw.slice(closing + 1).trim()
      if (trailing !== '' && !trailing.startsWith('#')) {
        throw new EnvFileSyntaxError(lineNumber, 'unexpected text after the closing quote')
      }
      const body = raw.slice(0, closing)
      value = quote === "'" ? body : expand(body.replace(/\\([nrt"\\])/g, (_, escaped: string) => DOUBLE_QUOTE_ESCAPES[escaped]!))
    } else {
      value = expand(rest.replace(/\s+#.*$/, '').trim())
    }
    earlier.set(name, value)
    entries.push({name, value, line: lineNumber})
  }
  return entries
}

function findClosingQuote(text: string, quote: string): number {
  for (let position = 0; position < text.length; position++) {
    if (quote === '"' && text[position] === '\\') {
      position++
      continue
    }
    if (text[position] === quote) return position
  }
  return -1
}
