import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'

export default class Init extends SecureCommand {
  static override summary = 'Write a commented starter profile (.secure.toml) here.'
  static override examples = ['<%= config.bin %> init']
  static override flags = {force: Flags.boolean({description: 'Replace an existing .secure.toml.'})}

  async run(): Promise<void> {
    const {flags} = await this.parse(Init)
    const {writeStarterProfile} = await import('../profile/init-profile.js')
    const file = await writeStarterProfile(process.cwd(), flags.force)
    this.output.notice(`secure: wrote ${file}: add your secret references, then run secure allow`)
  }
}
