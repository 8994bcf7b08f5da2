import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../../base-command.js'

export default class ImageList extends SecureCommand {
  static override summary = 'Show secure\'s sandbox images: which are built, and from what.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> image list', '<%= config.bin %> image list --json']
  static override flags = {
    engine: Flags.string({description: 'The container engine: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ImageList)
    const {listSandboxImages, openImageEngine, formatImageListing} = await import('../../sandbox/sandbox-image.js')
    const {docker, build} = await openImageEngine({environment: this.environment, paths: this.paths, engineFlag: flags.engine, output: this.output})
    const images = await listSandboxImages(docker, build.baseImage)
    if (!this.jsonEnabled()) this.output.result(formatImageListing(images))
    return {images}
  }
}
