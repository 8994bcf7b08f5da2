import {SecureCommand} from '../base-command.js'

export default class Status extends SecureCommand {
  static override summary = 'Show which profile applies here, whether it is trusted, and what it gives.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run(): Promise<unknown> {
    await this.parse(Status)
    const {describeProfile, formatProfileStatus} = await import('../profile/describe-profile.js')
    const status = await describeProfile(process.cwd(), this.paths, this.environment)
    if (!this.jsonEnabled()) this.output.result(formatProfileStatus(status, this.paths.home).join('\n'))
    return status
  }
}
