import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'
import {UsageError} from '../errors.js'

export default class Doctor extends SecureCommand {
  static override summary = 'Find credentials on this machine that any program you run can read; --fix moves them into 1Password.'
  static override description = `Looks in ~/.npmrc and the project's .npmrc, ~/.pypirc, ~/.netrc, ~/.docker/config.json (logins without a credential helper), the GitHub CLI's hosts.yml, ~/.aws/credentials, cargo's credentials, git's credential store, ~/.ssh (private keys without a passphrase) and your shell's environment, and checks whether the shell hook is installed. Each finding says where it is and gives a short fingerprint of the value, never the value. Exits 1 when anything is high severity.

--fix moves the tokens of npm, twine (PyPI), gh, cargo and the AWS CLI into new 1Password items, takes them out of the files, and adds the references to your config so that secure exec gives each one to its program only. It shows the plan and asks first, and changes no file before every value is stored in 1Password and reads back the same. The other findings get advice.`

  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', '<%= config.bin %> doctor --fix', '<%= config.bin %> doctor --fix --vault Private --yes']
  static override flags = {
    fix: Flags.boolean({description: 'Move the credentials that can move into 1Password (asks first).'}),
    vault: Flags.string({description: 'With --fix: the 1Password vault for the new items (title or ID) [default: ask].', dependsOn: ['fix']}),
    yes: Flags.boolean({description: 'With --fix: go ahead without asking (required without a terminal).', dependsOn: ['fix']}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Doctor)
    const {xdgConfig} = await import('xdg-basedir')
    const configHome = xdgConfig ?? `${this.paths.home}/.config`
    if (flags.fix) {
      if (this.jsonEnabled()) throw new UsageError('--fix does not go with --json', {code: 'USAGE', hint: 'run secure doctor --json to list, then secure doctor --fix'})
      const [{fixAmbientCredentials}, {createSecretProvider}, {default: confirm}, readline] = await Promise.all([
        import('../doctor/fix-credentials.js'),
        import('../secrets/create-provider.js'),
        import('@inquirer/confirm'),
        import('node:readline/promises'),
      ])
      const exitCode = await fixAmbientCredentials(
        {vault: flags.vault, yes: flags.yes},
        {
          cwd: process.cwd(),
          configHome,
          environment: this.environment,
          paths: this.paths,
          createProvider: createSecretProvider,
          audit: this.auditIdentity,
          interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
          confirm: (message) => confirm({message, default: false}, {input: process.stdin, output: process.stderr}),
          async ask(question) {
            const terminal = readline.createInterface({input: process.stdin, output: process.stderr})
            try {
              return await terminal.question(question)
            } finally {
              terminal.close()
            }
          },
          print: (text) => this.output.result(text),
        },
      )
      this.setExitCode(exitCode)
      return undefined
    }
    const {findAmbientCredentials, formatFindings} = await import('../doctor/find-credentials.js')
    const findings = await findAmbientCredentials({home: this.paths.home, cwd: process.cwd(), environment: this.environment, configHome})
    if (!this.jsonEnabled()) this.output.result(formatFindings(findings))
    // High: a token any program can use right now. Scripts and cron can act on the exit code.
    if (findings.some((finding) => finding.severity === 'high')) this.setExitCode(1)
    return {findings}
  }
}
