import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../../base-command.js'

export default class ImageBuild extends SecureCommand {
  static override summary = 'Build (or rebuild) one of secure\'s sandbox images.'
  static override description = `Images: base (Debian with git and make), node:22, node:24, node:26 (the Node.js LTS lines, with npm) python (CPython 3.11 with pytest, pip and tox, and 3.13 beside it) and rust (rustc and cargo from Debian trixie). Each is built from its template in secure's templates/sandbox/ on the base image named by base_image under [sandbox] in your config (default debian:bookworm-slim). secure run builds the image a repository needs by itself the first time; use this to rebuild after secure or the base image changed.`

  static override examples = ['<%= config.bin %> image build node:22', '<%= config.bin %> image build python --engine unix:///run/user/1000/podman/podman.sock']
  static override args = {name: Args.string({ignoreStdin: true, description: 'The image: base, node, node:22, node:24, node:26 or python.', required: true})}
  static override flags = {
    engine: Flags.string({description: 'The container engine: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ImageBuild)
    const {buildNamedImage, openImageEngine} = await import('../../sandbox/sandbox-image.js')
    const {docker, build} = await openImageEngine({environment: this.environment, paths: this.paths, engineFlag: flags.engine, output: this.output})
    await buildNamedImage(docker, args.name, build)
  }
}
