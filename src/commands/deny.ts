import * as Args from '@oclif/core/args'

import {SecureCommand} from '../base-command.js'

export default class Deny extends SecureCommand {
  static override summary = 'Block a repository\'s profile, whatever it contains.'
  static override examples = ['<%= config.bin %> deny', '<%= config.bin %> deny ~/src/untrusted']
  static override args = {path: Args.string({ignoreStdin: true, description: 'The .secure.toml, or its directory (default: the nearest one upwards).'})}

  async run(): Promise<void> {
    const {args} = await this.parse(Deny)
    const {denyProfile, describeTrustDecision} = await import('../profile/trust-decisions.js')
    const decision = await denyProfile(args.path, process.cwd(), this.paths.trustDirectory, (name) => this.environment[name])
    await this.recordTrustDecision('profile.deny', decision.file, decision.fingerprint)
    this.output.notice(describeTrustDecision('denied', decision, this.paths.home))
  }
}
