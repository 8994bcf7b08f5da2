import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'

export default class Publish extends SecureCommand {
  static override summary = 'Release the package (npm, PyPI or crates.io): build it with no credentials, review it, upload exactly that, verify.'
  static override description = `Checks that the work tree is clean and HEAD carries the signed tag of the package's version, builds and packs the package in the secure run sandbox (no credentials, no network unless asked): npm pack for a package.json, python -m build for a pyproject.toml, cargo package for a Cargo.toml. It shows what goes out and what changed since the latest release, and asks you. Then it uploads exactly those files (npm publish --ignore-scripts, twine upload, or the .crate through crates.io's API), the registry token resolved from 1Password just in time and given to that upload only, checks that the registry serves the same bytes, and records the release in the audit log.

With --stage (npm 11.15 or later), npm stage publish queues the version without making it public: you approve it with 2FA (npm stage approve), then secure publish --verify-staged checks and records it.

The profile's [publish] table names the token (npm_token, pypi_token or cargo_token = "op://…") and may set npm_otp, stage, registry, json_api, tag, access, signed_tags, build, network and kind; the profile must be allowed.`

  static override examples = [
    '<%= config.bin %> publish',
    '<%= config.bin %> publish --dry-run',
    '<%= config.bin %> publish --tag next',
    '<%= config.bin %> publish --stage',
    '<%= config.bin %> publish --verify-staged',
  ]
  static override flags = {
    yes: Flags.boolean({description: 'Publish without asking (for when the review was read some other way); required without a terminal.'}),
    'dry-run': Flags.boolean({description: 'Do everything but the upload.'}),
    registry: Flags.string({description: 'The registry (npm), upload URL (PyPI) or web API (crates.io) [default: the profile\'s, else the public one].'}),
    tag: Flags.string({description: 'The dist-tag [default: the profile\'s, else latest].'}),
    access: Flags.option({options: ['public', 'restricted'] as const, description: 'The access [default: the profile\'s, else public].'})(),
    engine: Flags.string({description: 'The container engine for the build: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
    network: Flags.boolean({description: 'Give the build a network (to install dependencies).', allowNo: true}),
    stage: Flags.boolean({description: 'npm: stage the version (npm stage publish) for you to approve with 2FA, instead of publishing it [default: the profile\'s stage].', allowNo: true}),
    'verify-staged': Flags.boolean({
      description: 'Check that a version staged earlier and approved since is served with the staged bytes, and record it as published.',
      exclusive: ['dry-run', 'stage', 'yes', 'tag', 'access', 'network', 'engine'],
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Publish)
    const [{publishRelease}, {createSecretProvider, referenceDialectOf}, {default: confirm}, {default: password}] = await Promise.all([
      import('../publish/publish-release.js'),
      import('../secrets/create-provider.js'),
      import('@inquirer/confirm'),
      import('@inquirer/password'),
    ])
    const exitCode = await publishRelease(
      {
        repository: process.cwd(),
        yes: flags.yes,
        dryRun: flags['dry-run'],
        registry: flags.registry,
        tag: flags.tag,
        access: flags.access,
        engine: flags.engine,
        network: flags.network,
        stage: flags.stage,
        verifyStaged: flags['verify-staged'],
      },
      {
        environment: this.environment,
        paths: this.paths,
        createProvider: createSecretProvider,
        referenceDialect: referenceDialectOf,
        audit: this.auditIdentity,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        stderr: process.stderr,
        interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
        signals: process,
        notice: (line) => this.output.notice(line),
        progress: (title) => this.output.progress(title),
        confirm: (message) => confirm({message, default: false}, {input: process.stdin, output: process.stderr}),
        askSecret: (message) => password({message, mask: '*'}, {input: process.stdin, output: process.stderr}),
      },
    )
    this.setExitCode(exitCode)
  }
}
