import {createHash} from 'node:crypto'
import {mkdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import type Dockerode from 'dockerode'
import {execa} from 'execa'
import {pack} from 'tar-stream'

import {EnvironmentError} from '../errors.js'
import {findPackageRoot} from '../paths.js'
import {type ImageChoice} from './image-catalog.js'

/** The labels secure puts on its images: which template, and a digest of what it was built from. */
export const TEMPLATE_LABEL = 'dev.secure.template'
const DIGEST_LABEL = 'dev.secure.template-digest'
export const BUILT_FROM_LABEL = 'dev.secure.built-from'

/** What a build needs besides the image to build. */
export interface BuildImageOptions {
  /** The image the template starts FROM (a Debian bookworm image). */
  baseImage: string
  /** Where fetched Node.js and npm tarballs are kept between builds. */
  cacheDirectory: string
  /** The engine's CPU architecture (`/version` Arch: amd64, arm64). */
  architecture: string
  /** Each line of the build's output, as it comes. */
  onOutput: (line: string) => void
}

/** Whether an image is built, and from the template secure has now. */
export type ImageState = 'missing' | 'current' | 'outdated'

/** Says whether `choice` is built on this engine, and whether from today's template and base. */
export async function inspectImageState(docker: Dockerode, choice: ImageChoice, baseImage: string): Promise<ImageState> {
  let labels: Record<string, string> | undefined
  try {
    labels = (await docker.getImage(choice.tag).inspect()).Config?.Labels ?? undefined
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) return 'missing'
    throw error
  }
  return labels?.[DIGEST_LABEL] === templateDigest(await readTemplate(choice), choice, baseImage) ? 'current' : 'outdated'
}

/**
 * Builds one of secure's images on the engine from its template. Node's binaries are fetched on
 * the host through npm (which checks their integrity) and handed in with the build context, so
 * the Node build needs no network.
 */
export async function buildSandboxImage(docker: Dockerode, choice: ImageChoice, options: BuildImageOptions): Promise<void> {
  if (!(await imageExists(docker, options.baseImage))) {
    throw new EnvironmentError(`the base image ${options.baseImage} is not on this engine`, {
      code: 'BASE_IMAGE_MISSING',
      hint: `pull it (docker pull ${options.baseImage}), or set base_image under [sandbox] in secure's config to a Debian bookworm image you have`,
    })
  }
  const dockerfile = await readTemplate(choice)
  const context = pack()
  context.entry({name: 'Dockerfile'}, dockerfile)
  let builtFrom = options.baseImage
  if (choice.template === 'node') {
    const artifacts = await fetchNodeArtifacts(choice.variant, options.architecture, options.cacheDirectory, options.onOutput)
    context.entry({name: 'node.tgz'}, artifacts.node.content)
    context.entry({name: 'npm.tgz'}, artifacts.npm.content)
    builtFrom = `${options.baseImage}, node ${artifacts.node.version}, npm ${artifacts.npm.version}`
  }
  context.finalize()

  const labels = {[TEMPLATE_LABEL]: choice.template, [DIGEST_LABEL]: templateDigest(dockerfile, choice, options.baseImage), [BUILT_FROM_LABEL]: builtFrom}
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
    t: choice.tag,
    // dockerode passes these through as the API's JSON-encoded query values.
    buildargs: JSON.stringify({BASE: options.baseImage}) as unknown as Record<string, string>,
    labels: JSON.stringify(labels) as unknown as Record<string, string>,
    rm: true,
    forcerm: true,
  })
  const recent: string[] = []
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error) => (error ? reject(error) : resolve()),
      (event: {stream?: string; error?: string; errorDetail?: {message?: string}}) => {
        if (event.error || event.errorDetail) {
          reject(new Error(event.errorDetail?.message ?? event.error))
          return
        }
        for (const line of (event.stream ?? '').split('\n')) {
          if (line.trim() === '') continue
          recent.push(line)
          if (recent.length > 5) recent.shift()
          options.onOutput(line)
        }
      },
    )
  }).catch((error: unknown) => {
    throw new EnvironmentError(`building ${choice.tag} failed: ${String((error as Error).message ?? error).split('\n')[0]}`, {
      code: 'IMAGE_BUILD_FAILED',
      hint: recent.length > 0 ? `the build's last lines: ${recent.join(' | ')}` : 'run secure image build again to see its output',
      cause: error,
    })
  })
}

/** Whether the engine has an image of that name. */
export async function imageExists(docker: Dockerode, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect()
    return true
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) return false
    throw error
  }
}

async function readTemplate(choice: ImageChoice): Promise<string> {
  return readFile(join(await findPackageRoot(), 'templates', 'sandbox', choice.template, 'Dockerfile'), 'utf8')
}

/** Changes whenever what the image is built from changes: the template, its variant, the base. */
function templateDigest(dockerfile: string, choice: ImageChoice, baseImage: string): string {
  return createHash('sha256').update([dockerfile, choice.variant, baseImage].join('\0')).digest('hex')
}

interface FetchedPackage {
  version: string
  content: Buffer
}

/**
 * Fetches `node-linux-<arch>@MAJOR` (the official Node.js binaries on the npm registry) and npm
 * itself with `npm pack`, which checks each tarball against the registry's integrity hash.
 */
async function fetchNodeArtifacts(major: string, architecture: string, cacheDirectory: string, onOutput: (line: string) => void): Promise<{node: FetchedPackage; npm: FetchedPackage}> {
  const nodeArchitecture = {amd64: 'x64', x86_64: 'x64', arm64: 'arm64', aarch64: 'arm64'}[architecture]
  if (!nodeArchitecture) {
    throw new EnvironmentError(`no Node.js build for the engine's architecture ${architecture}`, {code: 'IMAGE_ARCH_UNSUPPORTED', hint: 'use the plain image: --image base'})
  }
  const directory = join(cacheDirectory, 'node')
  await mkdir(directory, {recursive: true})
  onOutput(`fetching node-linux-${nodeArchitecture}@${major} and npm@11 from the npm registry`)
  let packed: Array<{name: string; version: string; filename: string}>
  try {
    const {stdout} = await execa('npm', ['pack', `node-linux-${nodeArchitecture}@${major}`, 'npm@11', '--json', '--pack-destination', directory], {cwd: directory})
    packed = JSON.parse(stdout) as typeof packed
  } catch (error) {
    const {code, stderr} = error as {code?: string; stderr?: string}
    throw new EnvironmentError(
      code === 'ENOENT' ? 'building the Node image needs npm on this machine' : `npm could not fetch Node.js ${major}: ${firstErrorLine(stderr)}`,
      {code: 'NODE_FETCH_FAILED', hint: code === 'ENOENT' ? 'install npm, or use --image base' : 'check your connection to the npm registry, then build again', cause: error},
    )
  }
  const [node, npm] = await Promise.all(
    packed.map(async (item) => ({version: item.version, content: await readFile(join(directory, item.filename))})),
  )
  return {node: node!, npm: npm!}
}

/** npm's first error line, which says what went wrong (the last one only points to its log). */
function firstErrorLine(text: string | undefined): string {
  const lines = (text ?? '').trim().split('\n')
  return lines.find((line) => line.startsWith('npm error') && !/complete log of this run/.test(line)) ?? lines.pop() ?? 'no output'
}
