import {chmod, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {expect} from 'vitest'

import {cliEntry, givenCliWorkspace} from './cli.js'
import {TEST_BASE_IMAGE, type TestEngine, hostNetworkEnvironment} from './engines.js'
import {opDoubleCommand} from './op-double.js'
import {givenSignedRepository} from './signed-repository.js'

/** The registry tokens (and npm one-time password) in the maintainer's 1Password, by item. */
export interface VaultTokens {
  npm?: string
  pypi?: string
  cargo?: string
}

/** A vault holding the registry tokens, as the maintainer's 1Password would: `op://Private/<registry>/credential`. */
export function vaultWith(tokens: VaultTokens) {
  const item = (id: string, title: string, value: string, extra: Array<{id: string; label: string; value: string; type: string}> = []) => ({
    id,
    title,
    fields: [{id: 'credential', label: 'credential', value, type: 'CONCEALED'}, ...extra],
  })
  return {
    vaults: [
      {
        id: 'hu5ekhd4ogjxa6lqcgsztoyu4e',
        name: 'Private',
        items: [
          item('a4v6vn2o5bzqd6jq3ttfkbbwbu', 'npm', tokens.npm ?? 'npm-unused', [{id: 'otp', label: 'otp', value: '123456', type: 'CONCEALED'}]),
          item('p3ypi4tokenitem5xxxxxxxxxxx', 'pypi', tokens.pypi ?? 'pypi-unused'),
          item('c4rgo5tokenitem6xxxxxxxxxxx', 'cargo', tokens.cargo ?? 'cargo-unused'),
        ],
      },
    ],
  }
}

let releases = 0

/** What kind of package the release repository holds. */
export type ReleaseKind = 'npm' | 'python' | 'rust'

/**
 * A maintainer's machine and the signed, tagged release commit (v1.0.0) of a package whose allowed
 * profile has this `[publish]` table; `publish` runs the built CLI in it on `engine`. The package is
 * named `secure-e2e-<pid>-<n>`: valid for npm, PyPI and crates.io alike.
 */
export async function givenReleaseRepository(options: {engine: TestEngine; publish: string; tokens: VaultTokens; kind?: ReleaseKind; tag?: 'ssh' | 'annotated'}) {
  const name = `secure-e2e-${process.pid}-${++releases}`
  const workspace = await givenCliWorkspace({
    op: {vaults: vaultWith(options.tokens)},
    config: `[onepassword]\nprovider = "op"\nop_path = "${opDoubleCommand}"\n\n[sandbox]\nbase_image = "${TEST_BASE_IMAGE}"\n`,
  })
  const profile = {'.secure.toml': `[publish]\n${options.publish}\n`}
  const kind = options.kind ?? 'npm'
  const root = join(workspace.root, 'release')
  const fixture =
    kind === 'python'
      ? await givenSignedRepository(root, null, {...profile, 'pyproject.toml': pyproject(name), 'release_check.py': 'ANSWER = 42\n'})
      : kind === 'rust'
        ? await givenSignedRepository(root, null, {...profile, 'Cargo.toml': cargoManifest(name), '.gitignore': 'target\n', 'lib.rs': 'pub fn answer() -> u32 { 42 }\n'})
        : await givenSignedRepository(root, {name, version: '1.0.0', main: 'index.js'}, profile)
  fixture.sign[options.tag ?? 'ssh']('v1.0.0')
  // Rootless Podman here runs as another user, who must be able to read the repository.
  for (const directory of [workspace.root, root, fixture.repository]) await chmod(directory, 0o755)
  const environment = {
    ...workspace.environment,
    ...hostNetworkEnvironment(),
    GIT_CONFIG_GLOBAL: fixture.environment.GIT_CONFIG_GLOBAL!,
    GIT_CONFIG_NOSYSTEM: '1',
    GNUPGHOME: fixture.environment.GNUPGHOME!,
  }
  const secure = (args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, [cliEntry, ...args], {cwd: fixture.repository, env: {...environment, ...env}, extendEnv: false, reject: false, stdin: 'ignore'})
  expect((await secure(['allow'])).exitCode).toBe(0)
  const publish = (args: string[] = ['--yes'], env: Record<string, string> = {}) => secure(['publish', '--engine', options.engine.url, ...args], env)
  return {name, workspace, fixture, environment, secure, publish}
}

/** A setuptools project, built with the Python image's own setuptools (no network). */
function pyproject(name: string): string {
  return `[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "${name}"\nversion = "1.0.0"\n\n[tool.setuptools]\npy-modules = ["release_check"]\n`
}

/** A crate with no dependencies (cargo package needs no network for it). */
function cargoManifest(name: string): string {
  return `[package]\nname = "${name}"\nversion = "1.0.0"\nedition = "2021"\ndescription = "secure's test crate"\nlicense = "MIT"\n\n[lib]\npath = "lib.rs"\n`
}

/** The audit log's records, as `secure log --json` would give them. */
export async function auditRecords(home: string): Promise<Array<{event: string; details: Record<string, unknown>}>> {
  const text = await readFile(auditLogPath(home), 'utf8').catch(() => '')
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as {event: string; details: Record<string, unknown>})
}

export function auditLogPath(home: string): string {
  return join(home, '.local', 'state', 'secure', 'audit.jsonl')
}

/**
 * The run failed with exactly one error, said on one line with one hint line, at the end of stderr
 * (an uploader's own output may come before it).
 */
export function expectOneLineError(stderr: string, message: RegExp): void {
  expect(stderr.match(/secure: error: /g) ?? [], stderr).toHaveLength(1)
  const [error, hint] = stderr.trimEnd().split('\n').slice(-2)
  expect(error, stderr).toMatch(new RegExp(`^secure: error: ${message.source}`, message.flags))
  expect(hint, stderr).toMatch(/^hint: \S/)
}
