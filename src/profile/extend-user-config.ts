import {resolve} from 'node:path'
import {parse as parseToml} from 'smol-toml'

import {PolicyError} from '../errors.js'
import {expandHome} from '../paths.js'
import {isTable} from './profile-settings.js'

/** What `secure doctor --fix` adds to the user's profile for the home directory. */
export interface HomeProfileAddition {
  /** Variable → secret reference (`[directories."~".secrets]`). */
  secrets: ReadonlyMap<string, string>
  /** Program → the variables it gets (`[directories."~".commands.npm]`). */
  commands: ReadonlyMap<string, readonly string[]>
  /** What the shell hook routes through `secure exec` (`[directories."~".hook] exec`). */
  hookExec: readonly string[]
}

/** The home directory's entry in the user's config, as written. */
export interface HomeProfile {
  /** Its key under `[directories]`: `~`, or whatever the user wrote that means the home directory. */
  key: string
  /** Its `[secrets]`, name → value as written. */
  secrets: ReadonlyMap<string, string>
}

/** The config with an addition, and what was added, for the plan. */
export interface ExtendedConfig {
  text: string
  /** The lines added, as they read in the file. */
  addedLines: string[]
  /** Things the user may want to change themselves (an existing `[hook]` that routes none of it). */
  notes: string[]
}

/** The user's profile for the home directory, or an empty one under `~` when there is none. */
export function readHomeProfile(text: string, home: string): HomeProfile {
  const entry = findHomeEntry(parseToml(text), home)
  const secrets = new Map<string, string>()
  if (entry && isTable(entry.table.secrets)) {
    for (const [name, value] of Object.entries(entry.table.secrets)) if (typeof value === 'string') secrets.set(name, value)
  }
  return {key: entry?.key ?? '~', secrets}
}

/**
 * Adds `addition` to the home directory's profile in the config text `text`, without touching a
 * byte of what is there: new tables are appended at the end under a `# heading` comment, and new
 * secrets are inserted under an existing `[directories."~".secrets]` header. The result is parsed
 * again and must mean exactly the old config plus the addition; otherwise, or when the config
 * already says something else about one of these variables or programs, it throws
 * {@link PolicyError} and the caller changes nothing.
 */
export function extendHomeProfile(text: string, file: string, home: string, addition: HomeProfileAddition, heading: string): ExtendedConfig {
  const data = parseToml(text)
  const entry = findHomeEntry(data, home)
  const key = entry?.key ?? '~'
  const table = entry?.table ?? {}
  const where = `${file} [directories.${tomlKey(key)}]`
  const refuse = (problem: string, hint: string) => new PolicyError(`${where} ${problem}`, {code: 'DOCTOR_CONFIG_CONFLICT', hint})

  const existingSecrets = isTable(table.secrets) ? table.secrets : undefined
  const newSecrets = [...addition.secrets].filter(([name, reference]) => {
    const existing = existingSecrets?.[name]
    if (existing !== undefined && existing !== reference) {
      throw refuse(`already gives ${name} = ${JSON.stringify(existing)}`, 'remove that line if it is stale, or leave this file entry where it is')
    }
    return existing === undefined
  })

  const existingCommands = isTable(table.commands) ? table.commands : undefined
  const othersGiven = Object.keys(existingSecrets ?? {}).some((name) => !addition.secrets.has(name)) || (Array.isArray(table.env_files) && table.env_files.length > 0)
  if (existingCommands === undefined && othersGiven && addition.commands.size > 0) {
    throw refuse(
      'gives every program all of its secrets: a [commands.PROGRAM] table would take them away from the others',
      `add [directories.${tomlKey(key)}.commands.PROGRAM] tables (or [commands."*"]) for the secrets it has, then run secure doctor --fix again`,
    )
  }
  const newCommands = [...addition.commands].filter(([program, names]) => {
    const existing = existingCommands?.[program]
    if (existing === undefined) return true
    const listed = isTable(existing) && Array.isArray(existing.secrets) ? existing.secrets : []
    const missing = names.filter((name) => !listed.includes(name))
    if (missing.length > 0) throw refuse(`has [commands.${program}] without ${missing.join(', ')}`, `add ${missing.join(', ')} to its secrets, then run secure doctor --fix again`)
    return false
  })

  // With no [hook] table the hook wraps every program that has a [commands.X] table, whole: `npm
  // test` in a fresh clone would then get the npm token. An exec list keeps the programs wrapped
  // before, and adds only the commands that need these secrets.
  const notes: string[] = []
  let hookExec: string[] | undefined
  if (table.hook === undefined) {
    if (addition.hookExec.length > 0) {
      const wrappedBefore = Object.keys(existingCommands ?? {}).filter((program) => program !== '*')
      hookExec = [...wrappedBefore, ...addition.hookExec.filter((command) => !wrappedBefore.includes(command.split(' ')[0]!))]
    }
  } else {
    const routed = isTable(table.hook) && Array.isArray(table.hook.exec) ? (table.hook.exec as unknown[]) : Object.keys(existingCommands ?? {})
    const unrouted = addition.hookExec.filter((command) => !routed.includes(command) && !routed.includes(command.split(' ')[0]))
    if (unrouted.length > 0) notes.push(`your [directories.${tomlKey(key)}.hook] does not route ${unrouted.join(', ')} through secure exec: add ${unrouted.length === 1 ? 'it' : 'them'} to its exec list, or type secure exec -- …`)
  }

  if (newSecrets.length === 0 && newCommands.length === 0 && hookExec === undefined) return {text, addedLines: [], notes}
  const prefix = `directories.${tomlKey(key)}`
  const secretLines = newSecrets.map(([name, reference]) => `${tomlKey(name)} = ${JSON.stringify(reference)}`)
  const blocks: string[][] = []
  let lines = text === '' ? [] : text.replace(/\n$/, '').split('\n')
  if (secretLines.length > 0 && existingSecrets !== undefined) {
    const header = lines.findIndex((line) => headerPattern(key, 'secrets').test(line))
    if (header === -1) throw uneditable(where, key)
    lines = [...lines.slice(0, header + 1), ...secretLines, ...lines.slice(header + 1)]
  } else if (secretLines.length > 0) {
    blocks.push([`[${prefix}.secrets]`, ...secretLines])
  }
  for (const [program, names] of newCommands) blocks.push([`[${prefix}.commands.${tomlKey(program)}]`, `secrets = [${names.map((name) => JSON.stringify(name)).join(', ')}]`])
  if (hookExec !== undefined) blocks.push([`[${prefix}.hook]`, `exec = [${hookExec.map((command) => JSON.stringify(command)).join(', ')}]`])
  const appended = blocks.length === 0 ? [] : [`# ${heading}`, ...blocks.flatMap((block, index) => (index === 0 ? block : ['', ...block]))]
  const result = [...lines, ...(appended.length > 0 && lines.length > 0 ? [''] : []), ...appended].join('\n') + '\n'

  // Proof: the new text parses, and means the old config plus the addition, nothing else.
  const expected = parseToml(text)
  const directories = (expected.directories ??= {}) as Record<string, Record<string, unknown>>
  const intended = (directories[key] ??= {})
  if (newSecrets.length > 0) intended.secrets = {...(intended.secrets as object | undefined), ...Object.fromEntries(newSecrets)}
  if (newCommands.length > 0) intended.commands = {...(intended.commands as object | undefined), ...Object.fromEntries(newCommands.map(([program, names]) => [program, {secrets: [...names]}]))}
  if (hookExec !== undefined) intended.hook = {exec: hookExec}
  let actual: unknown
  try {
    actual = parseToml(result)
  } catch {
    throw uneditable(where, key)
  }
  if (JSON.stringify(normalized(actual)) !== JSON.stringify(normalized(expected))) throw uneditable(where, key)
  const inserted = existingSecrets === undefined ? [] : secretLines
  return {text: result, addedLines: [...inserted, ...appended], notes}
}

function findHomeEntry(data: Record<string, unknown>, home: string): {key: string; table: Record<string, unknown>} | undefined {
  if (!isTable(data.directories)) return undefined
  const keys = Object.keys(data.directories).filter((key) => resolve(expandHome(key, home)) === home)
  if (keys.length > 1) {
    throw new PolicyError(`the config has more than one [directories] entry for your home directory (${keys.join(', ')})`, {
      code: 'DOCTOR_CONFIG_CONFLICT',
      hint: 'merge them into one [directories."~"], then run secure doctor --fix again',
    })
  }
  const table = keys[0] === undefined ? undefined : data.directories[keys[0]]
  return keys[0] === undefined || !isTable(table) ? undefined : {key: keys[0], table}
}

function uneditable(where: string, key: string): PolicyError {
  return new PolicyError(`${where} is written in a way secure cannot add to without rewriting it`, {
    code: 'DOCTOR_CONFIG_UNEDITABLE',
    hint: `write it with standard tables ([directories.${tomlKey(key)}.secrets], not an inline table or dotted keys), then run secure doctor --fix again`,
  })
}

/** A TOML key: bare when it can be, else a basic string (JSON's escapes are TOML's). */
function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key)
}

/** `[directories."~".secrets]` however the key is quoted and spaced. */
function headerPattern(key: string, table: string): RegExp {
  const escape = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const quoted = [JSON.stringify(key), `'${key}'`, ...(/^[A-Za-z0-9_-]+$/.test(key) ? [key] : [])].map(escape).join('|')
  return new RegExp(`^\\s*\\[\\s*directories\\s*\\.\\s*(?:${quoted})\\s*\\.\\s*${table}\\s*\\]\\s*(?:#.*)?$`)
}

/** A parsed document with its tables' keys sorted, so two documents compare by meaning, not by order. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized)
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, normalized((value as Record<string, unknown>)[key])]))
  }
  return value
}
