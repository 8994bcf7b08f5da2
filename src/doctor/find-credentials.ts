import {createHash} from 'node:crypto'
import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'

import {displayPath} from '../paths.js'
import {isAmbientCredential} from '../secrets/ambient-credentials.js'

/** How bad a finding is: `high` is a token any program can read and use right now. */
export type Severity = 'high' | 'medium' | 'low'

/** One credential sitting where any program running as you can read it. Never its value. */
export interface Finding {
  severity: Severity
  /** What it is: `npm token`, `SSH private key without a passphrase`, … */
  what: string
  /** Where: `~/.npmrc:2 (//registry.npmjs.org/)`, `environment: GITHUB_TOKEN`. */
  where: string
  /** The file it is in (absolute), and the line when there is one: for scripts, and for `--fix`. */
  file?: string
  line?: number
  /** `sha256:` and 12 hex digits of the value: enough to tell two findings apart, useless to an attacker. */
  fingerprint: string | null
  /** What to do about it. */
  advice: string
}

/** Where `secure doctor` looks. */
export interface DoctorInputs {
  home: string
  /** The directory it runs in: its nearest project .npmrc is checked too. */
  cwd: string
  environment: Readonly<Record<string, string | undefined>>
  /** $XDG_CONFIG_HOME (git's credential store and gh live there). */
  configHome: string
}

const MOVE_TO_1PASSWORD = 'move it into 1Password and reference it from a profile (op://…), then delete it here'

/**
 * `secure doctor`: every credential on this machine that any program run as you can read — the
 * files registry clients, git, Docker, the cloud CLIs and ssh keep them in, and the shell's
 * environment — plus whether the shell hook is installed. It reads; it never prints a value.
 */
export async function findAmbientCredentials(inputs: DoctorInputs): Promise<Finding[]> {
  const {home, configHome} = inputs
  const show = (path: string, line?: number) => `${displayPath(path, home)}${line ? `:${line}` : ''}`
  const checks = [
    npmrc(join(home, '.npmrc'), show),
    ...(await projectNpmrc(inputs.cwd, home)).map((file) => npmrc(file, show)),
    keyValueFile(join(home, '.pypirc'), CREDENTIAL_LINES.pypirc, 'PyPI password or token', show),
    netrc(join(home, '.netrc'), show),
    dockerConfig(join(home, '.docker', 'config.json'), show),
    keyValueFile(join(configHome, 'gh', 'hosts.yml'), CREDENTIAL_LINES.ghHosts, 'GitHub CLI token', show),
    keyValueFile(join(home, '.aws', 'credentials'), CREDENTIAL_LINES.awsSecret, 'AWS secret access key', show),
    keyValueFile(join(home, '.cargo', 'credentials.toml'), CREDENTIAL_LINES.cargo, 'crates.io token', show),
    keyValueFile(join(home, '.cargo', 'credentials'), CREDENTIAL_LINES.cargo, 'crates.io token', show),
    gitCredentials(join(home, '.git-credentials'), show),
    gitCredentials(join(configHome, 'git', 'credentials'), show),
    sshKeys(join(home, '.ssh'), show),
  ]
  const findings = (await Promise.all(checks)).flat()
  findings.push(...environmentCredentials(inputs.environment), ...(await hookInstalled(home, configHome)))
  const order: Record<Severity, number> = {high: 0, medium: 1, low: 2}
  return findings.sort((a, b) => order[a.severity] - order[b.severity] || a.where.localeCompare(b.where))
}

type Show = (path: string, line?: number) => string

/** An npm credential line of an .npmrc: the `//host/path/:` it is scoped to (if any), the key, the value. */
export const NPMRC_CREDENTIAL = /^\s*(\/\/[^:]*:)?(_authToken|_auth|_password)\s*=\s*(\S+)\s*$/

/** The line holding a credential in each of these files; the value is the first group. */
export const CREDENTIAL_LINES = {
  pypirc: /^\s*password\s*[=:]\s*(\S.*?)\s*$/,
  ghHosts: /^\s*oauth_token:\s*(\S+)\s*$/,
  awsSecret: /^\s*aws_secret_access_key\s*=\s*(\S+)\s*$/,
  cargo: /^\s*token\s*=\s*"?([^"\s]+)"?\s*$/,
} as const

/** `sha256:` and the first 12 hex digits of the value's digest. */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`
}

async function readLines(file: string): Promise<string[] | undefined> {
  return readFile(file, 'utf8').then((text) => text.split('\n'), () => undefined)
}

/** A value written as `${VAR}` is read from the environment at run time, not stored in the file. */
export const isPlaceholder = (value: string) => /^\$\{?[A-Za-z_][A-Za-z0-9_]*\??\}?$/.test(value)

async function npmrc(file: string, show: Show): Promise<Finding[]> {
  const lines = await readLines(file)
  return (lines ?? []).flatMap((line, index) => {
    const match = NPMRC_CREDENTIAL.exec(line)
    if (!match || isPlaceholder(match[3]!)) return []
    return [{severity: 'high', what: `npm ${match[2] === '_authToken' ? 'token' : 'credential'}`, where: `${show(file, index + 1)}${match[1] ? ` (${match[1].slice(0, -1)})` : ''}`, file, line: index + 1, fingerprint: fingerprint(match[3]!), advice: MOVE_TO_1PASSWORD} satisfies Finding]
  })
}

/** The nearest .npmrc above `cwd` that is not the user's own: a project's, which npm reads too. */
async function projectNpmrc(cwd: string, home: string): Promise<string[]> {
  for (let directory = cwd; ; directory = join(directory, '..')) {
    const file = join(directory, '.npmrc')
    if (directory !== home && (await readLines(file)) !== undefined) return [file]
    if (join(directory, '..') === directory) return []
  }
}

async function keyValueFile(file: string, pattern: RegExp, what: string, show: Show): Promise<Finding[]> {
  const lines = await readLines(file)
  return (lines ?? []).flatMap((line, index) => {
    const value = pattern.exec(line)?.[1]
    return value && !isPlaceholder(value) ? [{severity: 'high', what, where: show(file, index + 1), file, line: index + 1, fingerprint: fingerprint(value), advice: MOVE_TO_1PASSWORD} satisfies Finding] : []
  })
}

async function netrc(file: string, show: Show): Promise<Finding[]> {
  const lines = await readLines(file)
  return (lines ?? []).flatMap((line, index) => {
    const tokens = line.trim().split(/\s+/)
    const at = tokens.indexOf('password')
    const value = at >= 0 ? tokens[at + 1] : undefined
    const machine = tokens[tokens.indexOf('machine') + 1]
    return value ? [{severity: 'high', what: 'netrc password', where: `${show(file, index + 1)}${tokens.includes('machine') ? ` (${machine})` : ''}`, file, line: index + 1, fingerprint: fingerprint(value), advice: MOVE_TO_1PASSWORD} satisfies Finding] : []
  })
}

async function dockerConfig(file: string, show: Show): Promise<Finding[]> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined) return []
  let config: {auths?: Record<string, {auth?: string}>; credsStore?: string; credHelpers?: Record<string, string>}
  try {
    config = JSON.parse(text) as typeof config
  } catch {
    return []
  }
  return Object.entries(config.auths ?? {}).flatMap(([registry, entry]) =>
    entry.auth && !config.credHelpers?.[registry]
      ? [{severity: 'high', what: 'Docker registry login', where: `${show(file)} (${registry})`, file, fingerprint: fingerprint(entry.auth), advice: 'use a credential helper (credsStore, or docker-credential-1password), then docker login again'} satisfies Finding]
      : [],
  )
}

async function gitCredentials(file: string, show: Show): Promise<Finding[]> {
  const lines = await readLines(file)
  return (lines ?? []).flatMap((line, index) => {
    const match = /^\w+:\/\/[^:/@]*:([^@]+)@(\S+)$/.exec(line.trim())
    return match ? [{severity: 'high', what: 'git stored credential', where: `${show(file, index + 1)} (${match[2]})`, file, line: index + 1, fingerprint: fingerprint(match[1]!), advice: 'use a credential helper that asks 1Password (or gh auth git-credential) instead of credential.helper=store'} satisfies Finding] : []
  })
}

/** Private keys in ~/.ssh that open without a passphrase. */
async function sshKeys(directory: string, show: Show): Promise<Finding[]> {
  const names = await readdir(directory).catch(() => [] as string[])
  const findings: Finding[] = []
  for (const name of names.filter((entry) => !entry.endsWith('.pub'))) {
    const text = await readFile(join(directory, name), 'utf8').catch(() => '')
    if (!unencryptedPrivateKey(text)) continue
    findings.push({severity: 'medium', what: 'SSH private key without a passphrase', where: show(join(directory, name)), file: join(directory, name), fingerprint: fingerprint(text.trim()), advice: 'add a passphrase (ssh-keygen -p -f KEY), or keep the key in 1Password\'s SSH agent'})
  }
  return findings
}

function unencryptedPrivateKey(text: string): boolean {
  const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----\s+([\s\S]+?)-----END OPENSSH PRIVATE KEY-----/.exec(text)
  if (openssh) {
    // openssh-key-v1\0, then the cipher name as a length-prefixed string: "none" when unencrypted.
    const body = Buffer.from(openssh[1]!.replace(/\s+/g, ''), 'base64')
    const magic = 'openssh-key-v1\0'
    if (body.toString('latin1', 0, magic.length) !== magic) return false
    const length = body.readUInt32BE(magic.length)
    return body.toString('latin1', magic.length + 4, magic.length + 4 + length) === 'none'
  }
  // PEM keys say so in a header when they are encrypted.
  return /-----BEGIN (RSA |EC |DSA )?PRIVATE KEY-----/.test(text) && !/ENCRYPTED/.test(text)
}

function environmentCredentials(environment: Readonly<Record<string, string | undefined>>): Finding[] {
  return Object.entries(environment).flatMap(([name, value]) =>
    value && isAmbientCredential(name) && name !== 'SSH_AUTH_SOCK'
      ? [{severity: 'medium', what: 'credential-looking variable in your shell', where: `environment: ${name}`, fingerprint: fingerprint(value), advice: 'stop exporting it from your shell\'s rc file; give it to the one command that needs it with secure exec'} satisfies Finding]
      : [],
  )
}

async function hookInstalled(home: string, configHome: string): Promise<Finding[]> {
  const rcFiles = [join(home, '.bashrc'), join(home, '.zshrc'), join(configHome, 'fish', 'config.fish')]
  const texts = await Promise.all(rcFiles.map((file) => readFile(file, 'utf8').catch(() => '')))
  if (texts.some((text) => /secure hook (bash|zsh|fish)/.test(text))) return []
  return [{severity: 'low', what: 'the shell hook is not installed', where: 'your shell\'s rc file', fingerprint: null, advice: 'add eval "$(secure hook bash)" (or zsh, or: secure hook fish | source) to it'}]
}

/** `secure doctor` for people: one line per finding, worst first, and a summary. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'no credentials found where other programs can read them'
  const lines = findings.map((finding) => `${finding.severity.toUpperCase().padEnd(6)}  ${finding.what}: ${finding.where}${finding.fingerprint ? ` [${finding.fingerprint}]` : ''}\n        ${finding.advice}`)
  const high = findings.filter((finding) => finding.severity === 'high').length
  return [...lines, `${findings.length} finding${findings.length === 1 ? '' : 's'}, ${high} high`].join('\n')
}
