import {type ProfileSecret} from '../profile/load-profile.js'

/**
 * One registry's side of `secure publish` (npm, PyPI, crates.io): how its package is named and
 * versioned, built, reviewed, uploaded and verified. The flow around it (publish-release.ts) is the
 * same for all.
 */
export interface ReleaseTarget {
  /** For messages and audit records: `npm`, `pypi`, `cargo`. */
  kind: string
  /** Where the release goes (for the review question and the record). */
  registry: string
  /** What else the audit record states about this release (npm: the dist-tag and access). */
  recordDetails: Record<string, string>
  /** The sandbox image the build needs when the profile names none; undefined: the one the repository's files call for. */
  image: string | undefined
  /** The package's name and version as the checkout states them. */
  readSource(repository: string): Promise<{name: string; version: string}>
  /** Fails, before anything is built, when this machine cannot upload (a program missing or too old). */
  checkUploader(environment: Readonly<Record<string, string | undefined>>): Promise<void>
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
  /** What the upload would do, for a dry run: the command line, or the request. */
  describeUpload(built: BuiltRelease): string
  /**
   * Uploads exactly the built files with the resolved secrets. A program that uploads runs through
   * `run` (its output shown and masked, no terminal); a target that speaks the registry's API
   * itself sends the request in this process.
   */
  upload(built: BuiltRelease, values: ReadonlyMap<string, string>, run: RunUploader): Promise<UploadOutcome>
  /** What the registry serves now for this version, per file: its digest, or undefined when absent. */
  served(release: ReleaseFiles): Promise<Map<string, string | undefined>>
}

/** Runs an upload program with these secrets in its environment; its output is shown (masked) as it comes. */
export type RunUploader = (command: string, args: readonly string[], environment: ReadonlyMap<string, string>) => Promise<{exitCode: number; output: string}>

/** How an upload ended. */
export interface UploadOutcome {
  /** Why the registry did not take it, for the one-line error (`npm exited with 1`); undefined when it did. */
  failure: string | undefined
  /** The registry wants a one-time password first (npm's EOTP): secure may ask the human and upload once more. */
  wantsOneTimePassword: boolean
  /** What the registry said besides (crates.io's warnings), for the human. */
  notes?: string[]
  /** A staged upload (`npm stage publish`): on the registry, not public until a human approves it. */
  staged?: {
    /** The registry's id for it, when the uploader said one. */
    id: string | undefined
    /** The command that approves it, for the human to run (with 2FA). */
    approve: string
  }
}

/** A release's files as the registry states their digests: what is verified and recorded. */
export interface ReleaseFiles {
  name: string
  version: string
  files: ReadonlyArray<{filename: string; digest: string}>
}

/** What a build packed, ready for review and upload. */
export interface BuiltRelease extends ReleaseFiles {
  /** Each file to upload: its absolute path, name and digest as the registry states digests. */
  files: ReadonlyArray<{path: string; filename: string; digest: string}>
}
