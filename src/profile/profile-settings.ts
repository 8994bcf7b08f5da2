import {UsageError} from '../errors.js'

/**
 * What a profile says, as written: in a repository's `.secure.toml`, or under
 * `[directories."~/path"]` in the user's config. Validated strictly so a typo is an error, not a
 * silently ignored setting.
 */
export interface ProfileSettings {
  /** Variable name → value as written: a secret reference or a template containing references. */
  secrets: ReadonlyMap<string, string>
  /** `op run --env-file` files, relative to the profile's directory; a later file wins. */
  envFiles: readonly string[]
  /** Program name → the secrets it gets. `"*"` is every program not listed. Absent: all get all. */
  commands: ReadonlyMap<string, readonly string[]> | undefined
  /** Mask secret values in the child's output (default true). */
  mask: boolean | undefined
  /** Let the child use the SSH agent (default false: `SSH_AUTH_SOCK` is scrubbed). */
  sshAgent: boolean | undefined
  /** How `secure run` runs this directory's commands. */
  sandbox: SandboxProfileSettings
  /** How `secure publish` releases this directory's package. */
  publish: PublishProfileSettings
  /** What the shell hook does in this directory. */
  hook: HookProfileSettings
}

/**
 * A profile's `[hook]` table: the shell functions the hook defines here. Each entry is a program
 * (`twine`) or a program and its first argument (`npm publish`).
 */
export interface HookProfileSettings {
  /** Commands that need secrets: routed through `secure exec`. Default: the [commands.X] programs. */
  exec?: readonly string[]
  /** Commands that run the repository's code: routed through `secure run`. */
  run?: readonly string[]
  /** Remove ambient credentials from the shell on entering (as for a profile that is not allowed). */
  untrusted?: boolean
}

/** `npm`, or `npm publish`: a program name and at most one argument, nothing a shell would expand. */
const HOOK_COMMAND = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*( [A-Za-z0-9_][A-Za-z0-9_.:+-]*)?$/

/** A profile's `[publish]` table. */
export interface PublishProfileSettings {
  /** Which registry, when the repository has more than one of package.json, pyproject.toml and Cargo.toml. */
  kind?: 'npm' | 'pypi' | 'cargo'
  /** The registry token, as a 1Password reference: resolved just in time for the upload only. */
  npmToken?: string
  /** A one-time password reference (`op://…?attribute=otp`), for accounts with 2FA on publish. */
  npmOtp?: string
  /** The PyPI API token reference (uploaded as user __token__). */
  pypiToken?: string
  /** The crates.io API token reference (sent as the upload's Authorization header). */
  cargoToken?: string
  /** npm: stage the version (`npm stage publish`) for a human to approve with 2FA, instead of publishing it. */
  stage?: boolean
  /**
   * npm: the registry, passed explicitly (a tarball's publishConfig could say otherwise).
   * PyPI: the upload URL (https://upload.pypi.org/legacy/).
   * crates.io: the web API's base (https://crates.io).
   */
  registry?: string
  /** PyPI: the JSON API the upload is verified against (https://pypi.org/pypi/). */
  jsonApi?: string
  tag?: string
  access?: 'public' | 'restricted'
  /** Release tags must be signed and verify (default true). */
  signedTags?: boolean
  /** A shell command run in the sandbox before the pack (`npm ci && npm run build`). */
  build?: string
  /** Give the build a network (to install dependencies). */
  network?: boolean
}

/** A profile's `[sandbox]` table: what a repository's suite needs from `secure run`. */
export interface SandboxProfileSettings {
  /** The image: one of secure's (`node:22`, `python`, `base`) or any image on the engine. */
  image?: string
  /** Give the container a network (for suites that download their dependencies). */
  network?: boolean
  /** Refuse a rootful engine. */
  requireRootless?: boolean
}

const KNOWN_KEYS = new Set(['secrets', 'env_files', 'commands', 'mask', 'ssh_agent', 'sandbox', 'publish', 'hook'])

/** Reads profile settings from parsed TOML; `where` names the file (and table) in errors. */
export function readProfileSettings(data: Record<string, unknown>, where: string): ProfileSettings {
  const fail = (problem: string) =>
    new UsageError(`${where}: ${problem}`, {code: 'PROFILE_INVALID', hint: 'fix the profile (secure init writes a commented example)'})

  for (const key of Object.keys(data)) {
    if (!KNOWN_KEYS.has(key)) throw fail(`unknown setting "${key}" (expected one of ${[...KNOWN_KEYS].join(', ')})`)
  }

  const secrets = new Map<string, string>()
  const secretsTable = data.secrets ?? {}
  if (!isTable(secretsTable)) throw fail('[secrets] must be a table of NAME = "op://vault/item/field"')
  for (const [name, value] of Object.entries(secretsTable)) {
    if (typeof value !== 'string') throw fail(`secrets.${name} must be a string such as "op://vault/item/field"`)
    secrets.set(name, value)
  }

  const envFiles = data.env_files ?? []
  if (!isStringArray(envFiles)) throw fail('env_files must be a list of file names')

  let commands: Map<string, readonly string[]> | undefined
  if (data.commands !== undefined) {
    if (!isTable(data.commands)) throw fail('[commands] must be a table of [commands.PROGRAM] tables')
    commands = new Map()
    for (const [program, rule] of Object.entries(data.commands)) {
      if (!isTable(rule) || !isStringArray(rule.secrets) || Object.keys(rule).some((key) => key !== 'secrets')) {
        throw fail(`[commands.${program}] must have exactly secrets = ["NAME", …]`)
      }
      commands.set(program, rule.secrets)
    }
  }

  for (const key of ['mask', 'ssh_agent'] as const) {
    if (data[key] !== undefined && typeof data[key] !== 'boolean') throw fail(`${key} must be true or false`)
  }

  return {
    secrets,
    envFiles,
    commands,
    mask: data.mask as boolean | undefined,
    sshAgent: data.ssh_agent as boolean | undefined,
    sandbox: readSandboxTable(data.sandbox, fail),
    publish: readPublishTable(data.publish, fail),
    hook: readHookTable(data.hook, fail),
  }
}

function readHookTable(table: unknown, fail: (problem: string) => Error): HookProfileSettings {
  if (table === undefined) return {}
  if (!isTable(table)) throw fail('[hook] must be a table')
  const hook: HookProfileSettings = {}
  for (const [key, value] of Object.entries(table)) {
    if ((key === 'exec' || key === 'run') && isStringArray(value)) {
      const bad = value.find((command) => !HOOK_COMMAND.test(command))
      if (bad !== undefined) throw fail(`hook.${key}: "${bad}" is not a program name, or a program and one argument`)
      hook[key] = value
    } else if (key === 'untrusted' && typeof value === 'boolean') {
      hook.untrusted = value
    } else {
      throw fail(`hook.${key} is not a known setting or has a wrong value (exec = ["twine", "npm publish"], run = ["npm test", "pytest"], untrusted = true|false)`)
    }
  }
  return hook
}

function readPublishTable(table: unknown, fail: (problem: string) => Error): PublishProfileSettings {
  if (table === undefined) return {}
  if (!isTable(table)) throw fail('[publish] must be a table')
  const publish: PublishProfileSettings = {}
  const text = (value: unknown): value is string => typeof value === 'string' && value !== ''
  for (const [key, value] of Object.entries(table)) {
    if (key === 'kind' && (value === 'npm' || value === 'pypi' || value === 'cargo')) publish.kind = value
    else if (key === 'npm_token' && text(value)) publish.npmToken = value
    else if (key === 'pypi_token' && text(value)) publish.pypiToken = value
    else if (key === 'cargo_token' && text(value)) publish.cargoToken = value
    else if (key === 'stage' && typeof value === 'boolean') publish.stage = value
    else if (key === 'json_api' && text(value)) publish.jsonApi = value
    else if (key === 'npm_otp' && text(value)) publish.npmOtp = value
    else if (key === 'registry' && text(value)) publish.registry = value
    else if (key === 'tag' && text(value)) publish.tag = value
    else if (key === 'access' && (value === 'public' || value === 'restricted')) publish.access = value
    else if (key === 'signed_tags' && typeof value === 'boolean') publish.signedTags = value
    else if (key === 'build' && text(value)) publish.build = value
    else if (key === 'network' && typeof value === 'boolean') publish.network = value
    else {
      throw fail(`publish.${key} is not a known setting or has a wrong value (kind = "npm"|"pypi"|"cargo", npm_token = "op://…", npm_otp, stage, pypi_token, cargo_token, registry, json_api, tag, access = "public"|"restricted", signed_tags, build, network)`)
    }
  }
  return publish
}

function readSandboxTable(table: unknown, fail: (problem: string) => Error): SandboxProfileSettings {
  if (table === undefined) return {}
  if (!isTable(table)) throw fail('[sandbox] must be a table')
  const sandbox: SandboxProfileSettings = {}
  for (const [key, value] of Object.entries(table)) {
    if (key === 'image' && typeof value === 'string' && value !== '') sandbox.image = value
    else if (key === 'network' && typeof value === 'boolean') sandbox.network = value
    else if (key === 'require_rootless' && typeof value === 'boolean') sandbox.requireRootless = value
    else throw fail(`sandbox.${key} is not a known setting or has a wrong value (image = "node:24", network = true|false, require_rootless = true|false)`)
  }
  return sandbox
}

/** True for a TOML table (a plain object). */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}
