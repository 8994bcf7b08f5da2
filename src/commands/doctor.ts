import {SecureCommand} from '../base-command.js'

export default class Doctor extends SecureCommand {
  static override summary = 'Find credentials on this machine that any program you run can read.'
  static override description = `Looks in ~/.npmrc and the project's .npmrc, ~/.pypirc, ~/.netrc, ~/.docker/config.json (logins
without a credential helper), the GitHub CLI's hosts.yml, ~/.aws/credentials, cargo's credentials,
git's credential store, ~/.ssh (private keys without a passphrase) and your shell's environment,
and checks whether the shell hook is installed. Each finding says where it is and gives a short
fingerprint of the value, never the value. Exits 1 when anything is high severity.`

  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']

  async run(): Promise<unknown> {
    await this.parse(Doctor)
    const [{findAmbientCredentials, formatFindings}, {xdgConfig}] = await Promise.all([import('../doctor/find-credentials.js'), import('xdg-basedir')])
    const findings = await findAmbientCredentials({
      home: this.paths.home,
      cwd: process.cwd(),
      environment: this.environment,
      configHome: xdgConfig ?? `${this.paths.home}/.config`,
    })
    if (!this.jsonEnabled()) this.output.result(formatFindings(findings))
    // High: a token any program can use right now. Scripts and cron can act on the exit code.
    if (findings.some((finding) => finding.severity === 'high')) this.setExitCode(1)
    return {findings}
  }
}
