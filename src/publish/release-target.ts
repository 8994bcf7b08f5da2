import {type ProfileSecret} from '../profile/load-profile.js'

/**
 * One registry's side of `secure publish` (npm, PyPI): how its package is named and versioned, built,
 * reviewed, uploaded and verified. The flow around it (publish-release.ts) is the same for all.
 */
export interface ReleaseTarget {
  /** For messages and audit records: `npm`, `pypi`. */
  kind: string
  /** Where the release goes (for the review question and the record). */
  registry: string
  /** What else the audit record states about this release (npm: the dist-tag and access). */
  recordDetails: Record<string, string>
  /** The package's name and version as the checkout states them. */
  readSource(repository: string): Promise<{name: string; version: string}>
  /** The sandbox command that builds and packs into `directory` (inside the workspace copy). */
  buildScript(directory: string): string
  /** Reads what the build packed; throws when it is not exactly what a release needs. */
  inspect(directory: string): Promise<BuiltRelease>
  /** Whether the registry already has this version (it would refuse it after the review). */
  isPublished(name: string, version: string): Promise<boolean>
  /** The review lines: what goes out, and what changed since the latest release. */
  describe(built: BuiltRelease): Promise<string[]>
  /** The secrets the upload needs, named `token` (and `otp`); checked before anything is built. */
  secrets(): ProfileSecret[]
  /** Whether a failed upload's output says the registry wants a one-time password (npm's EOTP). */
  wantsOneTimePassword(output: string): boolean
  /** The upload: one child process, its arguments, and what it gets in its environment. */
  upload(built: BuiltRelease, values: ReadonlyMap<string, string>): {command: string; args: string[]; environment: Map<string, string>}
  /** What the registry serves now for this version, per file: its digest, or undefined when absent. */
  served(built: BuiltRelease): Promise<Map<string, string | undefined>>
}

/** What a build packed, ready for review and upload. */
export interface BuiltRelease {
  name: string
  version: string
  /** Each file to upload: its absolute path, name and digest as the registry states digests. */
  files: ReadonlyArray<{path: string; filename: string; digest: string}>
}
