import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'

export default class Publish extends SecureCommand {
  static override summary = 'Release the package: build it with no credentials, review it, upload exactly that, verify.'
  static override description = `Checks that the work tree is clean and HEAD carries the signed tag of the package's version,
builds and packs the package in the secure run sandbox (no credentials, no network unless asked),
shows what the tarball holds and what changed since the latest release, and asks you. Then it
uploads exactly that tarball with npm publish --ignore-scripts, the registry token resolved from
1Password just in time and given to that npm process only, checks that the registry serves the
same bytes, and records the release in the audit log.

The profile's [publish] table names the token (npm_token = "op://…") and may set npm_otp, registry,
tag, access, signed_tags, build and network; the profile must be allowed.`

  static override examples = ['<%= config.bin %> publish', '<%= config.bin %> publish --dry-run', '<%= config.bin %> publish --tag next']
  static override flags = {
    yes: Flags.boolean({description: 'Publish without asking (for when the review was read some other way); required without a terminal.'}),
    'dry-run': Flags.boolean({description: 'Do everything but the upload.'}),
    registry: Flags.string({description: 'The registry URL [default: the profile\'s, else https://registry.npmjs.org/].'}),
    tag: Flags.string({description: 'The dist-tag [default: the profile\'s, else latest].'}),
    access: Flags.option({options: ['public', 'restricted'] as const, description: 'The access [default: the profile\'s, else public].'})(),
    engine: Flags.string({description: 'The container engine for the build: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
    network: Flags.boolean({description: 'Give the build a network (to install dependencies).', allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Publish)
    const [{publishNpm}, {createSecretProvider, referenceDialectOf}, {default: confirm}] = await Promise.all([
      import('../publish/publish-npm.js'),
      import('../secrets/create-provider.js'),
      import('@inquirer/confirm'),
    ])
    const exitCode = await publishNpm(
      {
        repository: process.cwd(),
        yes: flags.yes,
        dryRun: flags['dry-run'],
        registry: flags.registry,
        tag: flags.tag,
        access: flags.access,
        engine: flags.engine,
        network: flags.network,
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
      },
    )
    this.setExitCode(exitCode)
  }
}
