import * as Args from '@oclif/core/args'

import {SecureCommand} from '../base-command.js'

export default class Hook extends SecureCommand {
  static override summary = 'Print the shell hook that activates each directory\'s profile.'
  static override description = `Add it to your shell's rc file: eval "$(secure hook bash)" last in ~/.bashrc, eval "$(secure hook zsh)" in ~/.zshrc, or secure hook fish | source in ~/.config/fish/config.fish.

On a directory change it defines a function for each command the (allowed) profile routes through secure exec or secure run, and removes them on leaving. Entering a directory whose profile is not allowed, or marks it untrusted, removes ambient credentials (NPM_TOKEN, GITHUB_TOKEN, …) from the shell, already for the command on the same line (cd repo && npm test). An edit to the profile, an allow or a deny counts from the next prompt. No secret value is ever put in the shell. SECURE_PROFILE (not exported) names the active profile, for prompts.`

  static override examples = ['eval "$(<%= config.bin %> hook bash)"', '<%= config.bin %> hook fish | source']
  static override args = {shell: Args.string({ignoreStdin: true, description: 'bash, zsh or fish.', required: true, options: ['bash', 'zsh', 'fish']})}

  async run(): Promise<void> {
    const {args} = await this.parse(Hook)
    const {hookForShell} = await import('../hook/install-hook.js')
    this.output.result(await hookForShell(args.shell as 'bash' | 'zsh' | 'fish', this.paths, this.config.version, this.environment))
  }
}
