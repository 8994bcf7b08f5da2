import type Dockerode from 'dockerode'

import {EnvironmentError, UsageError} from '../errors.js'
import {type Output, type Progress} from '../output.js'
import {type SecurePaths} from '../paths.js'
import {readUserConfig} from '../profile/user-config.js'
import {BUILT_FROM_LABEL, type ImageState, TEMPLATE_LABEL, buildSandboxImage, imageExists, inspectImageState} from './build-image.js'
import {connectToChosenEngine} from './engine-connection.js'
import {type ImageChoice, detectImageChoice, listImageChoices, parseImageChoice} from './image-catalog.js'

/** The Debian image secure's templates start FROM unless the user's config names another. */
export const DEFAULT_BASE_IMAGE = 'debian:bookworm-slim'

/** What building an image needs from the outside world. */
export interface ImageBuildContext {
  baseImage: string
  cacheDirectory: string
  architecture: string
  notice: (line: string) => void
  progress: (title: string) => Progress
}

/**
 * The image a run uses: the one named (`--image` or the profile), else the one the repository's
 * files call for. One of secure's own is built first when it is missing; any other must exist.
 */
export async function prepareRunImage(docker: Dockerode, named: string | undefined, repository: string, context: ImageBuildContext): Promise<string> {
  const choice = named === undefined ? await detectImageChoice(repository) : parseImageChoice(named)
  if (!choice) {
    if (!(await imageExists(docker, named!))) {
      throw new EnvironmentError(`image ${named} is not on this engine`, {
        code: 'IMAGE_MISSING',
        hint: `pull or build it first, or use one of secure's: ${imageNames()}`,
      })
    }
    return named!
  }
  const state = await inspectImageState(docker, choice, context.baseImage)
  if (state === 'missing') {
    const reason = 'reason' in choice ? ` (${choice.reason})` : ''
    await buildWithProgress(docker, choice, context, `secure: building ${choice.tag}${reason}; later runs reuse it`)
  } else if (state === 'outdated') {
    context.notice(`secure: ${choice.tag} was built from an older template or base; secure image build ${choice.template}:${choice.variant} rebuilds it`)
  }
  return choice.tag
}

/** `secure image build NAME`: builds (or rebuilds) one of secure's images. */
export async function buildNamedImage(docker: Dockerode, name: string, context: ImageBuildContext): Promise<ImageChoice> {
  const choice = parseImageChoice(name)
  if (!choice) {
    throw new UsageError(`"${name}" is not one of secure's images`, {
      code: 'IMAGE_UNKNOWN',
      hint: `choose one of: ${imageNames()}`,
    })
  }
  await buildWithProgress(docker, choice, context, `secure: building ${choice.tag}`)
  return choice
}

/** One row of `secure image list`. */
export interface ImageListing {
  name: string
  tag: string
  state: ImageState
  /** Bytes; undefined when not built. */
  size: number | undefined
  created: Date | undefined
  builtFrom: string | undefined
}

/** `secure image list`: every image secure can build, and whether and from what it is built. */
export async function listSandboxImages(docker: Dockerode, baseImage: string): Promise<ImageListing[]> {
  const built = await docker.listImages({filters: {label: [TEMPLATE_LABEL]}})
  return Promise.all(
    listImageChoices().map(async (choice) => {
      const image = built.find((candidate) => (candidate.RepoTags ?? []).includes(choice.tag))
      return {
        name: `${choice.template}:${choice.variant}`,
        tag: choice.tag,
        state: image ? await inspectImageState(docker, choice, baseImage) : 'missing',
        size: image?.Size,
        created: image ? new Date(image.Created * 1000) : undefined,
        builtFrom: image?.Labels?.[BUILT_FROM_LABEL],
      }
    }),
  )
}

async function buildWithProgress(docker: Dockerode, choice: ImageChoice, context: ImageBuildContext, title: string): Promise<void> {
  const progress = context.progress(title)
  const started = Date.now()
  try {
    await buildSandboxImage(docker, choice, {baseImage: context.baseImage, cacheDirectory: context.cacheDirectory, architecture: context.architecture, onOutput: (line) => progress.update(line)})
  } catch (error) {
    progress.fail()
    throw error
  }
  progress.done(`secure: built ${choice.tag} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
}

function imageNames(): string {
  return listImageChoices().map((each) => `${each.template}:${each.variant}`).join(', ')
}

/** What `secure image build` and `secure image list` take from the outside world. */
export interface ImageCommandContext {
  environment: Readonly<Record<string, string | undefined>>
  paths: Pick<SecurePaths, 'configFile' | 'home' | 'cacheDirectory'>
  engineFlag: string | undefined
  output: Pick<Output, 'notice' | 'progress'>
}

/** Connects to the chosen engine with the user's `[sandbox]` settings: what both image commands start with. */
export async function openImageEngine(context: ImageCommandContext): Promise<{docker: Dockerode; build: ImageBuildContext}> {
  const {sandbox} = await readUserConfig(context.paths.configFile, context.paths.home)
  const engine = await connectToChosenEngine(context.environment, context.paths.home, context.engineFlag, sandbox.engine)
  return {
    docker: engine.docker,
    build: {
      baseImage: sandbox.baseImage ?? DEFAULT_BASE_IMAGE,
      cacheDirectory: context.paths.cacheDirectory,
      architecture: engine.facts.architecture,
      notice: (line) => context.output.notice(line),
      progress: (title) => context.output.progress(title),
    },
  }
}

/** `secure image list` as a table for people. */
export function formatImageListing(images: readonly ImageListing[]): string {
  const rows = images.map((image) => [
    image.name,
    image.state === 'missing' ? 'not built' : image.state,
    image.size === undefined ? '' : `${Math.round(image.size / 1024 ** 2)} MB`,
    image.created?.toISOString().slice(0, 16).replace('T', ' ') ?? '',
    image.builtFrom ?? '',
  ])
  const table = [['IMAGE', 'STATE', 'SIZE', 'BUILT', 'FROM'], ...rows]
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)))
  return table.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n')
}
