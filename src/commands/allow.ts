import * as Args from '@oclif/core/args'

import {SecureCommand} from '../base-command.js'

export default class Allow extends SecureCommand {
  static override summary = 'Trust a repository\'s profile, exactly as it is now.'
  static override description = `Records the sha256 of the profile's path and contents (and of the env files it reads). Any edit, or a move, makes it inert again until you allow it again.`

  static override examples = ['<%= config.bin %> allow', '<%= config.bin %> allow ~/src/project']
  static override args = {path: Args.string({ignoreStdin: true, description: 'The .secure.toml, or its directory (default: the nearest one upwards).'})}

  async run(): Promise<void> {
    const {args} = await this.parse(Allow)
    const {allowProfile, describeTrustDecision} = await import('../profile/trust-decisions.js')
    const decision = await allowProfile(args.path, process.cwd(), this.paths.trustDirectory, (name) => this.environment[name])
    await this.recordTrustDecision('profile.allow', decision.file, decision.fingerprint)
    this.output.notice(describeTrustDecision('allowed', decision, this.paths.home))
  }
}
