import {createHash} from 'node:crypto'
import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {parse as parseToml} from 'smol-toml'

import {EnvironmentError, UsageError} from '../errors.js'
import {type PublishProfileSettings} from '../profile/profile-settings.js'
import {normaliseRegistry} from './npm-registry.js'
import {tokenSecrets} from './npm-target.js'
import {describePythonRelease, readPythonDistribution} from './python-distribution.js'
import {fetchRegistryBytes, fetchRegistryJson} from './registry-http.js'
import {type BuiltRelease, type ReleaseTarget} from './release-target.js'
import {missingUploader, readProgramVersion} from './uploader-program.js'

const DEFAULT_UPLOAD_URL = 'https://upload.pypi.org/legacy/'
const DEFAULT_JSON_API = 'https://pypi.org/pypi/'

/** The JSON API's answer for one release (`GET /pypi/<name>/<version>/json`), as far as needed. */
interface PypiRelease {
  info?: {version?: string}
  urls?: Array<{filename?: string; url?: string; size?: number; digests?: {sha256?: string}}>
}

/**
 * PyPI: `python -m build` in the sandbox (sdist and wheel), `twine upload` with the token in twine's
 * environment only, the uploaded files' sha256 checked through the JSON API (publishing.md §4).
 */
export function pypiTarget(settings: PublishProfileSettings, flags: {registry?: string}): ReleaseTarget {
  const uploadUrl = flags.registry ?? settings.registry ?? DEFAULT_UPLOAD_URL
  const jsonApi = normaliseRegistry(settings.jsonApi ?? DEFAULT_JSON_API)
  const readRelease = (name: string, version?: string) => fetchRegistryJson<PypiRelease>(`${jsonApi}${normaliseName(name)}/${version ? `${version}/` : ''}json`, jsonApi)
  // --config-file /dev/null: no ~/.pypirc, so no stored password joins in.
  const uploadArgs = (built: BuiltRelease) => ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', uploadUrl, '--config-file', '/dev/null', ...built.files.map((file) => file.path)]
  return {
    kind: 'pypi',
    registry: uploadUrl,
    recordDetails: {jsonApi},
    image: 'python',
    async readSource(repository) {
      const text = await readFile(join(repository, 'pyproject.toml'), 'utf8')
      const project = (parseToml(text) as {project?: {name?: unknown; version?: unknown}}).project
      if (typeof project?.name !== 'string' || typeof project.version !== 'string') {
        throw new UsageError('pyproject.toml has no static [project] name and version', {
          code: 'PUBLISH_NO_PACKAGE',
          hint: 'secure publish checks the release tag against [project] version before building, so the version must be written there',
        })
      }
      return {name: normaliseName(project.name), version: project.version}
    },
    async checkUploader(environment) {
      if ((await readProgramVersion('twine', environment)) === undefined) throw missingUploader('twine', 'install twine (apt install twine, or pipx install twine)')
    },
    // No isolation: the build uses the image's setuptools and wheel, as it has no network by default.
    buildScript: (directory) => `python3 -m build --no-isolation --outdir ${directory}`,
    async inspect(directory) {
      const names = (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.tar.gz') || name.endsWith('.whl'))
      const sdist = names.find((name) => name.endsWith('.tar.gz'))
      if (!sdist || names.length < 1) throw new EnvironmentError('the build made no source distribution', {code: 'PUBLISH_BUILD_FAILED', hint: 'python -m build must produce an sdist (and usually a wheel)'})
      const [name, version] = splitDistributionName(sdist.slice(0, -'.tar.gz'.length))
      const files = await Promise.all(
        names.sort().map(async (filename) => ({path: join(directory, filename), filename, digest: createHash('sha256').update(await readFile(join(directory, filename))).digest('hex')})),
      )
      return {name: normaliseName(name), version, files}
    },
    isPublished: async (name, version) => (await readRelease(name, version)) !== undefined,
    async describe(built) {
      const distributions = await Promise.all(
        built.files.map(async (file) => {
          const bytes = await readFile(file.path)
          return {...(await readPythonDistribution(bytes, file.filename, built.version)), size: bytes.length, sha256: file.digest}
        }),
      )
      const latest = await readRelease(built.name)
      const previousVersion = latest?.info?.version
      const previous = previousVersion
        ? {
            version: previousVersion,
            distributions: await Promise.all(
              (latest.urls ?? [])
                .filter((file) => file.url && file.filename)
                .map(async (file) => readPythonDistribution(await fetchRegistryBytes(file.url!, jsonApi), file.filename!, previousVersion)),
            ),
          }
        : undefined
      return describePythonRelease(built, distributions, previous)
    },
    secrets: () => tokenSecrets({reference: settings.pypiToken, setting: 'pypi_token'}),
    describeUpload: (built) => `run twine ${uploadArgs(built).join(' ')}`,
    async upload(built, values, run) {
      const {exitCode} = await run('twine', uploadArgs(built), new Map([
        ['TWINE_USERNAME', '__token__'],
        ['TWINE_PASSWORD', values.get('token')!],
        // No keyring either: twine must use exactly the token it is given.
        ['PYTHON_KEYRING_BACKEND', 'keyring.backends.null.Keyring'],
      ]))
      // PyPI takes API tokens only; 2FA is on the account, never asked at upload.
      return {failure: exitCode === 0 ? undefined : `twine failed to upload (exit ${exitCode}); its output is above`, wantsOneTimePassword: false}
    },
    async served(release) {
      const served = await readRelease(release.name, release.version)
      return new Map(release.files.map((file) => [file.filename, served?.urls?.find((url) => url.filename === file.filename)?.digests?.sha256]))
    },
  }
}

/** A project name as PyPI compares them (PEP 503): lower case, runs of `-`, `_` and `.` as one `-`. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

/** `my_package-1.2.3` → [`my_package`, `1.2.3`] (PEP 625 sdist names: the version has no `-`). */
function splitDistributionName(stem: string): [string, string] {
  const cut = stem.lastIndexOf('-')
  return [stem.slice(0, cut), stem.slice(cut + 1)]
}
