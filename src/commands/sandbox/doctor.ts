import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../../base-command.js'
import {EXIT_CODES} from '../../errors.js'

export default class SandboxDoctor extends SecureCommand {
  static override summary = 'Find the container engine secure run would use, and say what isolation it really gives.'
  static override description = `Looks for an engine as secure run does (--engine, engine under [sandbox] in your config, DOCKER_HOST, the current Docker context, then rootless Podman, rootless Docker, rootful Podman, rootful Docker), asks it whether it is rootless and whether it really enforces memory and pids limits, and explains how to get a rootless engine when there is none.`

  static override examples = ['<%= config.bin %> sandbox doctor', '<%= config.bin %> sandbox doctor --engine unix:///run/user/1000/podman/podman.sock']
  static override flags = {
    engine: Flags.string({description: 'The engine to check: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(SandboxDoctor)
    const [{diagnoseSandbox}, {engineDiscoveryInputs}, {readUserConfig}] = await Promise.all([
      import('../../sandbox/doctor.js'),
      import('../../sandbox/engine-candidates.js'),
      import('../../profile/user-config.js'),
    ])
    const {sandbox} = await readUserConfig(this.paths.configFile, this.paths.home)
    const diagnosis = await diagnoseSandbox(engineDiscoveryInputs(this.environment, this.paths.home, flags.engine, sandbox.engine))
    this.output.result(diagnosis.lines.join('\n'))
    if (!diagnosis.engineFound) this.setExitCode(EXIT_CODES.environment)
  }
}
