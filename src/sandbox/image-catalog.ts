import {readFile, readdir} from 'node:fs/promises'
import semver from 'semver'

import {UsageError} from '../errors.js'

/**
 * secure's own sandbox images, built from `templates/sandbox/<template>/Dockerfile`. Their tags live
 * under `localhost/`, so no engine ever tries to pull one from a registry.
 */
export interface ImageChoice {
  template: 'base' | 'node' | 'python' | 'rust'
  /** The template's variant: the Node major for `node`, the Python versions for `python`, the Rust version for `rust`. */
  variant: string
  /** The image's name on the engine. */
  tag: string
}

/** Node majors with a template: the LTS lines (shared/reference: Node's release schedule). */
export const NODE_MAJORS = ['22', '24', '26'] as const
/** The LTS line a repository gets when nothing in it asks for another. */
const DEFAULT_NODE_MAJOR = '24'
/** The Python image holds Debian bookworm's 3.11 and trixie's 3.13 side by side. */
const PYTHON_VARIANT = '3.11-3.13'
/** The Rust image holds Debian trixie's rustc and cargo. */
const RUST_VARIANT = '1.85'
const PLAIN_VARIANT = 'bookworm'

const VARIANTS: Record<ImageChoice['template'], readonly string[]> = {
  base: [PLAIN_VARIANT],
  node: NODE_MAJORS,
  python: [PYTHON_VARIANT],
  rust: [RUST_VARIANT],
}

/** Every image secure can build, for `secure image list` and messages. */
export function listImageChoices(): ImageChoice[] {
  return Object.entries(VARIANTS).flatMap(([template, variants]) => variants.map((variant) => choice(template as ImageChoice['template'], variant)))
}

/**
 * Reads an image name as the user writes it: a template (`node`, `node:22`, `python`, `rust`, `base`) or
 * the tag of one (`localhost/secure/node:22`). Anything else is not secure's, and is undefined.
 */
export function parseImageChoice(name: string): ImageChoice | undefined {
  const [template, variant] = name.replace(/^localhost\/secure\//, '').split(':') as [string, string | undefined]
  if (!(template in VARIANTS)) return undefined
  const known = VARIANTS[template as ImageChoice['template']]
  const picked = variant ?? (template === 'node' ? DEFAULT_NODE_MAJOR : known[0]!)
  if (!known.includes(picked)) {
    throw new UsageError(`there is no ${template} image "${name}"`, {code: 'IMAGE_UNKNOWN', hint: `choose one of: ${known.map((each) => `${template}:${each}`).join(', ')}`})
  }
  return choice(template as ImageChoice['template'], picked)
}

/**
 * Picks the image for a repository from what is in it: `package.json` → Node (the newest LTS line
 * its `engines.node`, `.nvmrc` or `.node-version` allows), Python project files → Python,
 * `Cargo.toml` → Rust, else the plain image.
 */
export async function detectImageChoice(repository: string): Promise<ImageChoice & {reason: string}> {
  const names = new Set(await readdir(repository).catch(() => [] as string[]))
  if (names.has('package.json')) {
    const {major, reason} = await pickNodeMajor(repository, names)
    return {...choice('node', major), reason}
  }
  const pythonFile = ['pyproject.toml', 'setup.py', 'setup.cfg', 'tox.ini', 'noxfile.py', 'requirements.txt'].find((name) => names.has(name))
  if (pythonFile) return {...choice('python', PYTHON_VARIANT), reason: `found ${pythonFile}`}
  if (names.has('Cargo.toml')) return {...choice('rust', RUST_VARIANT), reason: 'found Cargo.toml'}
  return {...choice('base', PLAIN_VARIANT), reason: 'found no package.json, Python project file or Cargo.toml'}
}

async function pickNodeMajor(repository: string, names: ReadonlySet<string>): Promise<{major: string; reason: string}> {
  const wanted: Array<{range: string; from: string}> = []
  // An unreadable or broken package.json is the suite's problem to report, not the image choice's.
  const manifest = await readFile(`${repository}/package.json`, 'utf8')
    .then((text) => JSON.parse(text) as {engines?: {node?: unknown}})
    .catch(() => ({}) as {engines?: {node?: unknown}})
  if (typeof manifest.engines?.node === 'string') wanted.push({range: manifest.engines.node, from: 'engines.node in package.json'})
  for (const file of ['.nvmrc', '.node-version']) {
    if (!names.has(file)) continue
    const version = (await readFile(`${repository}/${file}`, 'utf8').catch(() => '')).trim().replace(/^v/, '')
    if (version) wanted.push({range: version, from: file})
  }
  for (const {range, from} of wanted) {
    const major = [...NODE_MAJORS].reverse().find((candidate) => rangeAllowsMajor(range, candidate))
    if (major) return {major, reason: `found package.json; ${from} allows Node ${major}`}
  }
  return {major: DEFAULT_NODE_MAJOR, reason: wanted.length > 0 ? `found package.json; no LTS line matches ${wanted[0]!.from}, so the default Node ${DEFAULT_NODE_MAJOR}` : 'found package.json'}
}

function rangeAllowsMajor(range: string, major: string): boolean {
  // `lts/*`, `node` and other aliases are not ranges: they fall through to the default.
  if (semver.validRange(range) === null) return false
  return semver.intersects(range, `>=${major}.0.0 <${Number(major) + 1}.0.0`)
}

function choice(template: ImageChoice['template'], variant: string): ImageChoice {
  return {template, variant, tag: `localhost/secure/${template}:${variant}`}
}
