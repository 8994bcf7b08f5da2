import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'

export default class Exec extends SecureCommand {
  static override summary = 'Run one command with the secrets of this directory\'s profile.'
  static override description = `Resolves the 1Password secret references the profile gives this command, puts them in the command's environment only (never argv, never a file), masks them in its output, and removes ambient credentials (GITHUB_TOKEN, AWS_*, OP_*, …) from what it inherits. The exit code is the command's.`

  static override examples = [
    '<%= config.bin %> exec -- npm publish',
    '<%= config.bin %> exec --only TWINE_PASSWORD -- twine upload dist/*',
    '<%= config.bin %> exec --env-file .env.1password -- ./deploy.sh',
  ]

  static override strict = false
  static override usage = 'exec [FLAGS] -- COMMAND [ARGS...]'

  static override flags = {
    only: Flags.string({description: 'Give the command only this secret (repeatable).', multiple: true, default: []}),
    mask: Flags.boolean({description: 'Mask secret values in the output; --no-mask gives the command the real terminal.', allowNo: true}),
    'env-file': Flags.string({description: 'Also read an `op run` env file (repeatable; a later file wins).', multiple: true, default: []}),
    'ssh-agent': Flags.boolean({description: 'Let the command use your SSH agent (SSH_AUTH_SOCK is removed by default).', allowNo: true}),
    quiet: Flags.boolean({char: 'q', description: 'Do not print which secrets were given.'}),
  }

  async run(): Promise<void> {
    const {own, after} = this.splitAtSeparator()
    const {flags, argv} = await this.parse(Exec, own)
    const [command, ...args] = this.commandLineFrom(argv, after)
    const [{runExec}, {createSecretProvider, referenceDialectOf}] = await Promise.all([import('../exec/run-exec.js'), import('../secrets/create-provider.js')])
    const {resolve} = await import('node:path')
    const exitCode = await runExec(
      {
        cwd: process.cwd(),
        command,
        args,
        only: flags.only,
        mask: flags.mask,
        envFiles: flags['env-file'].map((file) => resolve(file)),
        sshAgent: flags['ssh-agent'],
        quiet: flags.quiet,
      },
      {
        environment: this.environment,
        paths: this.paths,
        createProvider: createSecretProvider,
        referenceDialect: referenceDialectOf,
        audit: this.auditIdentity,
        stdout: process.stdout,
        stderr: process.stderr,
        interactive: Boolean(process.stdin.isTTY),
        signals: process,
        notice: (line) => this.output.notice(line),
      },
    )
    this.setExitCode(exitCode)
  }
}
