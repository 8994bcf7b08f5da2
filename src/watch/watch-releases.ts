import {type AuditRecord, readAuditLog, verifyAuditLog} from '../audit/index.js'
import {EnvironmentError, SecureError} from '../errors.js'
import {type ExpectedSource} from '../profile/user-config.js'
import {type ReleaseRecord} from '../publish/publish-release.js'
import {fetchRegistryJson} from '../publish/registry-http.js'
import {InvalidProvenanceError, type VerifiedProvenance, isExpectedSource, verifyNpmProvenance} from './provenance.js'
import {type PublishedVersion, type WatchedPackage, readReleaseHistory} from './release-history.js'
import {type SigstoreTrust} from './sigstore-trust.js'
import {type WatchState, readWatchState, writeWatchState} from './watch-state.js'

/** A watched package, with the CI source whose provenance (or trusted publishing) explains its versions. */
export type WatchTarget = WatchedPackage & {provenance?: ExpectedSource}

/** What `secure watch` checks. */
export interface WatchOptions {
  packages: readonly WatchTarget[]
  /** Judge only versions published at or after this time (older ones still count as history). */
  since: Date | undefined
}

/** What `secure watch` reads and remembers. */
export interface WatchContext {
  auditLog: string
  statePath: string
  /** Sigstore's trust root; loaded only when some version has provenance to verify. */
  loadTrust: () => Promise<SigstoreTrust>
}

/** Why a version is an alarm. */
export type AlarmKind =
  /** No `secure publish` record, and no provenance or trusted publishing from the expected source. */
  | 'unexplained'
  /** A record exists, but the registry serves other bytes. */
  | 'integrity'
  /** A PyPI file in the release that no record lists (added after the release). */
  | 'unrecorded-file'
  /** Provenance (or crates.io trusted publishing) from a repository or workflow other than the expected one. */
  | 'provenance-mismatch'
  /** Provenance that does not verify, or is about other bytes. */
  | 'provenance-invalid'
  /** Less assurance than before: no provenance after versions that had it, or a person after a trusted publisher. */
  | 'downgrade'
  /** A dist-tag on a version nobody can explain. */
  | 'dist-tag'

/** How one version is explained, or why it alarms. */
export interface Verdict {
  kind: WatchedPackage['kind']
  package: string
  version: string
  published: string | null
  status: 'recorded' | 'provenance' | 'alarm' | 'unchecked'
  alarm?: AlarmKind
  detail: string
  /** An alarm an earlier run already reported. */
  reportedBefore: boolean
}

/** What a watch run found. */
export interface WatchReport {
  verdicts: Verdict[]
  /** Packages (or versions) that could not be checked, one line each. */
  unchecked: string[]
  /** Alarms no earlier run reported. */
  newAlarms: number
  /** Why the audit log's records were not used (it does not verify); an alarm of its own. */
  auditLogProblem: {detail: string; reportedBefore: boolean} | undefined
  /** Which Sigstore trust root verified provenance, if any was verified. */
  trust: SigstoreTrust['source'] | undefined
}

/**
 * `secure watch` (issue 6): an alarm for a release of your package that you did not make. Each
 * version on the registry is explained by a `secure publish` record of the same bytes, or by
 * verified provenance from the repository and workflow you expect; anything else alarms. So do
 * bytes that differ from the record, a downgrade in how a version was published, and a dist-tag on
 * a version nobody can explain. Each alarm is reported once; the state is in `context.statePath`.
 */
export async function watchReleases(options: WatchOptions, context: WatchContext): Promise<WatchReport> {
  const state = await readWatchState(context.statePath)
  const report: WatchReport = {verdicts: [], unchecked: [], newAlarms: 0, auditLogProblem: undefined, trust: undefined}
  const audit = await verifyAuditLog(context.auditLog)
  // An edited log proves nothing: its records could have been written to explain a release.
  const records = audit.ok ? publishRecords(await readAuditLog(context.auditLog)) : new Map<string, RecordedFile[]>()
  if (!audit.ok) {
    const detail = `${audit.problems[0]!.message}${audit.problems.length > 1 ? ` (and ${audit.problems.length - 1} more)` : ''}`
    report.auditLogProblem = {detail, reportedBefore: remember(state, `audit-log: ${detail}`)}
    if (!report.auditLogProblem.reportedBefore) report.newAlarms++
  }
  let trust: Promise<SigstoreTrust> | undefined
  const verifier: ProvenanceVerifier = async (watched, version) => {
    const key = `${watched.kind} ${watched.registry} ${watched.name}@${version.version} ${version.files[0]!.digest}`
    const known = state.verified.get(key)
    if (known) return known
    const response = await fetchRegistryJson(version.attestationsUrl!, watched.registry)
    trust ??= context.loadTrust()
    const loaded = await trust
    report.trust = loaded.source
    const verified = verifyNpmProvenance(response, {name: watched.name, version: version.version, integrity: version.files[0]!.digest}, loaded)
    if (verified) state.verified.set(key, verified)
    return verified
  }

  for (const watched of options.packages) {
    try {
      report.verdicts.push(...(await judgePackage(watched, records, verifier, options.since)))
    } catch (error) {
      if (!(error instanceof SecureError)) throw error
      report.unchecked.push(`${watched.name} (${watched.kind}): ${error.message}`)
    }
  }

  for (const verdict of report.verdicts) {
    if (verdict.status === 'unchecked') report.unchecked.push(`${verdict.package}@${verdict.version} (${verdict.kind}): ${verdict.detail}`)
    if (verdict.status !== 'alarm') continue
    verdict.reportedBefore = remember(state, `${verdict.kind} ${verdict.package}@${verdict.version} ${verdict.alarm}: ${verdict.detail}`)
    if (!verdict.reportedBefore) report.newAlarms++
  }
  await writeWatchState(context.statePath, state)
  return report
}

/** Marks an alarm as reported; true when an earlier run already had. */
function remember(state: WatchState, alarm: string): boolean {
  const before = state.reported.has(alarm)
  state.reported.add(alarm)
  return before
}

type ProvenanceVerifier = (watched: WatchedPackage, version: PublishedVersion) => Promise<VerifiedProvenance | undefined>

/** A file `secure publish` uploaded and verified: its name and digest as the registry states digests. */
type RecordedFile = ReleaseRecord['files'][number]

/** The verdicts on one package's versions, oldest first, then its dist-tags. */
async function judgePackage(
  watched: WatchTarget,
  records: ReadonlyMap<string, RecordedFile[]>,
  verifyProvenance: ProvenanceVerifier,
  since: Date | undefined,
): Promise<Verdict[]> {
  const history = await readReleaseHistory(watched)
  if (!history) throw new EnvironmentError(`not found on ${watched.registry}`, {code: 'WATCH_NOT_FOUND'})
  const verdicts: Verdict[] = []
  const explained = new Set<string>()
  // What earlier versions had, to see a later one publish with less.
  let hadProvenance = false
  let hadTrustedPublisher = false
  for (const version of history.versions) {
    const verdict: Verdict = {
      kind: watched.kind, package: watched.name, version: version.version, published: version.published, reportedBefore: false,
      ...(await judgeVersion(watched, version, records.get(recordKey(watched, version.version)), verifyProvenance)),
    }
    if (verdict.status !== 'recorded' && version.publisher && !version.publisher.trusted && hadTrustedPublisher) {
      Object.assign(verdict, {status: 'alarm', alarm: 'downgrade', detail: `published by ${version.publisher.name}, where a trusted publisher (CI) published before`})
    } else if (verdict.alarm === 'unexplained' && hadProvenance) {
      Object.assign(verdict, {alarm: 'downgrade', detail: 'no provenance and no secure publish record, after versions with provenance'})
    }
    hadProvenance ||= verdict.status === 'provenance'
    hadTrustedPublisher ||= version.publisher?.trusted === true
    if (verdict.status === 'recorded' || verdict.status === 'provenance') explained.add(version.version)
    if (!since || !version.published || new Date(version.published) >= since) verdicts.push(verdict)
  }
  for (const [tag, version] of Object.entries(history.distTags)) {
    if (explained.has(version)) continue
    verdicts.push({
      kind: watched.kind, package: watched.name, version, published: null, status: 'alarm', alarm: 'dist-tag', reportedBefore: false,
      detail: `the dist-tag ${tag} points at ${version}, which nothing explains: npm install gets it`,
    })
  }
  return verdicts
}

async function judgeVersion(
  watched: WatchTarget,
  version: PublishedVersion,
  recorded: readonly RecordedFile[] | undefined,
  verifyProvenance: ProvenanceVerifier,
): Promise<Pick<Verdict, 'status' | 'alarm' | 'detail'>> {
  if (recorded) return compareWithRecord(watched, version, recorded)
  if (version.attestationsUrl) {
    let provenance: VerifiedProvenance | undefined
    try {
      provenance = await verifyProvenance(watched, version)
    } catch (error) {
      if (error instanceof InvalidProvenanceError) return {status: 'alarm', alarm: 'provenance-invalid', detail: error.message}
      if (error instanceof SecureError) return {status: 'unchecked', detail: `its provenance could not be read: ${error.message}`}
      throw error
    }
    if (provenance) {
      const source = `${provenance.repository} ${provenance.workflow} (${provenance.ref})`
      if (!watched.provenance) {
        return {status: 'alarm', alarm: 'unexplained', detail: `provenance from ${source}, but [watch.provenance."${watched.name}"] names no source to expect`}
      }
      if (!isExpectedSource(provenance, watched.provenance)) {
        return {status: 'alarm', alarm: 'provenance-mismatch', detail: `provenance from ${source}, not ${watched.provenance.repository} ${watched.provenance.workflow}`}
      }
      return {status: 'provenance', detail: `built by ${source}`}
    }
  }
  if (version.trustedPublishing) {
    const source = `${version.trustedPublishing.repository} (run ${version.trustedPublishing.runId})`
    if (!watched.provenance) {
      return {status: 'alarm', alarm: 'unexplained', detail: `trusted publishing from ${source}, but [watch.provenance."${watched.name}"] names no source to expect`}
    }
    // crates.io records the repository and run, not the workflow file.
    if (version.trustedPublishing.repository !== watched.provenance.repository) {
      return {status: 'alarm', alarm: 'provenance-mismatch', detail: `trusted publishing from ${source}, not ${watched.provenance.repository}`}
    }
    return {status: 'provenance', detail: `trusted publishing from ${source}, as crates.io states it`}
  }
  return {status: 'alarm', alarm: 'unexplained', detail: 'no secure publish record and no provenance'}
}

/** A version with a record: every file the registry serves must be one secure uploaded, byte for byte. */
function compareWithRecord(watched: WatchedPackage, version: PublishedVersion, recorded: readonly RecordedFile[]): Pick<Verdict, 'status' | 'alarm' | 'detail'> {
  for (const file of version.files) {
    // npm serves one tarball under the registry's own file name (no scope): its integrity is what counts.
    const match = watched.kind === 'npm' ? recorded[0] : recorded.find((candidate) => candidate.filename === file.filename)
    if (!match) return {status: 'alarm', alarm: 'unrecorded-file', detail: `${file.filename} was added to the release, and no secure publish record has it`}
    if (match.digest !== file.digest) {
      return {status: 'alarm', alarm: 'integrity', detail: `the registry serves other bytes than secure publish uploaded: ${file.digest}, recorded ${match.digest}`}
    }
  }
  return {status: 'recorded', detail: 'published with secure publish, the same bytes'}
}

/**
 * What `secure publish` uploaded, by registry, package and version: verified uploads, and versions
 * it staged on npm (a human then approves exactly those bytes with 2FA).
 */
function publishRecords(records: readonly AuditRecord[]): Map<string, RecordedFile[]> {
  const found = new Map<string, RecordedFile[]>()
  for (const record of records) {
    if (record.event !== 'publish' && record.event !== 'publish.staged') continue
    // Read from a file: every field is checked, not trusted to have the shape publish wrote.
    const details = record.details as Partial<ReleaseRecord> & {jsonApi?: string}
    // npm and cargo are watched where they were published; PyPI is uploaded to one URL and read from its JSON API.
    const registry = details.kind === 'pypi' ? details.jsonApi : details.registry
    if (!isWatchedKind(details.kind) || !registry || !details.package || !details.version || !Array.isArray(details.files)) continue
    found.set(recordKey({kind: details.kind, registry, name: details.package}, details.version), details.files)
  }
  return found
}

function isWatchedKind(kind: string | undefined): kind is WatchedPackage['kind'] {
  return kind === 'npm' || kind === 'pypi' || kind === 'cargo'
}

function recordKey(watched: WatchedPackage, version: string): string {
  return `${watched.kind} ${watched.registry} ${watched.name}@${version}`
}
