import {readAuditLog} from '../audit/index.js'
import {UsageError} from '../errors.js'
import {type SecurePaths, displayPath} from '../paths.js'
import {readUserConfig} from '../profile/user-config.js'
import {normaliseCratesApi} from '../publish/cargo-target.js'
import {normaliseRegistry} from '../publish/npm-registry.js'
import {normaliseName} from '../publish/pypi-target.js'
import {type WatchedPackage} from './release-history.js'
import {type WatchTarget} from './watch-releases.js'

/** The registries `secure publish` uploads to by default, read where it verifies them. */
const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org/'
const DEFAULT_PYPI_JSON_API = 'https://pypi.org/pypi/'
const DEFAULT_CRATES_API = 'https://crates.io'

/** How an argument names its registry: `pypi:name`, `crates:name`; a bare name is npm's. */
const PREFIXES = {'npm:': 'npm', 'pypi:': 'pypi', 'crates:': 'cargo'} as const

/**
 * What to watch: the arguments (`NAME` for npm, `pypi:NAME`, `crates:NAME`), else `[watch]` in the user's config,
 * each with the CI source its provenance must name. The list is explicit on purpose: an alarm
 * system that guesses what to watch misses what it guessed wrong.
 */
export async function chooseWatchedPackages(
  args: readonly string[],
  registries: {npmRegistry: string | undefined; pypiJsonApi: string | undefined; cratesApi: string | undefined},
  paths: SecurePaths,
): Promise<WatchTarget[]> {
  const {watch} = await readUserConfig(paths.configFile, paths.home)
  const npmRegistry = normaliseRegistry(registries.npmRegistry ?? watch.npmRegistry ?? DEFAULT_NPM_REGISTRY)
  const pypiJsonApi = normaliseRegistry(registries.pypiJsonApi ?? watch.pypiJsonApi ?? DEFAULT_PYPI_JSON_API)
  const cratesApi = normaliseCratesApi(registries.cratesApi ?? watch.cratesApi ?? DEFAULT_CRATES_API)
  const named: Array<{kind: WatchedPackage['kind']; name: string}> =
    args.length > 0
      ? args.map((arg) => {
          const prefix = Object.keys(PREFIXES).find((candidate) => arg.startsWith(candidate)) as keyof typeof PREFIXES | undefined
          return prefix ? {kind: PREFIXES[prefix], name: arg.slice(prefix.length)} : {kind: 'npm', name: arg}
        })
      : [
          ...watch.npm.map((name) => ({kind: 'npm' as const, name})),
          ...watch.pypi.map((name) => ({kind: 'pypi' as const, name})),
          ...watch.crates.map((name) => ({kind: 'cargo' as const, name})),
        ]
  if (named.length === 0) {
    const published = await publishedPackages(paths.auditLog)
    throw new UsageError('no packages to watch', {
      code: 'WATCH_NOTHING',
      hint: `name them, or list them under [watch] in ${displayPath(paths.configFile, paths.home)}: npm = ["name"], pypi = ["name"], crates = ["name"]${published.length > 0 ? ` (secure publish has released ${published.join(', ')})` : ''}`,
    })
  }
  const invalid = named.find((entry) => entry.name === '')
  if (invalid) throw new UsageError('a prefix with no package name after it', {code: 'WATCH_BAD_PACKAGE', hint: 'write NAME for npm, pypi:NAME for PyPI, crates:NAME for crates.io'})
  return named.map(({kind, name}) => {
    if (kind === 'pypi') return {kind, name: normaliseName(name), registry: pypiJsonApi}
    const provenance = watch.provenance.get(name)
    return {kind, name, registry: kind === 'npm' ? npmRegistry : cratesApi, ...(provenance ? {provenance} : {})}
  })
}

/** The packages the audit log has a release record of, for the hint. */
async function publishedPackages(auditLog: string): Promise<string[]> {
  const records = await readAuditLog(auditLog).catch(() => [])
  const names = records.filter((record) => record.event === 'publish').map((record) => `${(record.details as {package?: string}).package}`)
  return [...new Set(names)].sort()
}

/**
 * `--since`: a date (`2026-11-01`, or any date-time JavaScript reads) or a span back from `now`
 * (`30d`, `12h`).
 */
export function parseSince(value: string | undefined, now: Date): Date | undefined {
  if (value === undefined) return undefined
  const span = /^(\d+)([dh])$/.exec(value)
  if (span) return new Date(now.getTime() - Number(span[1]) * (span[2] === 'd' ? 86_400_000 : 3_600_000))
  const date = new Date(value)
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(date.getTime())) {
    throw new UsageError(`--since ${value}: not a date or a span of time`, {code: 'WATCH_SINCE', hint: 'give a date such as 2026-11-01, or 30d or 12h'})
  }
  return date
}
