import {type Verdict, type WatchReport} from './watch-releases.js'

/** `secure watch` for people: a table of versions, then what could not be checked, then the verdict. */
export function formatWatchReport(report: WatchReport): string {
  const rows = report.verdicts.map((verdict) => [
    verdict.kind === 'npm' ? verdict.package : `${verdict.package} (${verdict.kind === 'pypi' ? 'PyPI' : 'crates.io'})`,
    verdict.version,
    verdict.published ? verdict.published.slice(0, 16).replace('T', ' ') : '',
    statusText(verdict),
    verdict.detail,
  ])
  const lines: string[] = []
  if (rows.length > 0) {
    const table = [['PACKAGE', 'VERSION', 'PUBLISHED', 'STATUS', 'DETAIL'], ...rows]
    const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)))
    lines.push(...table.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()))
  }
  if (report.auditLogProblem) {
    lines.push(`ALARM${report.auditLogProblem.reportedBefore ? ' (reported before)' : ''}: the audit log does not verify, so no record explains a release: ${report.auditLogProblem.detail}; see secure log verify`)
  }
  for (const line of report.unchecked) lines.push(`could not check ${line}`)
  if (report.trust === 'shipped') lines.push('provenance was verified with the Sigstore trust root shipped with secure: Sigstore\'s TUF repository could not be reached')
  const alarms = report.verdicts.filter((verdict) => verdict.status === 'alarm').length + (report.auditLogProblem ? 1 : 0)
  if (report.newAlarms > 0) {
    lines.push(`${report.newAlarms} new alarm${report.newAlarms === 1 ? '' : 's'}: treat a release nobody can explain as a compromise until you have explained it (deprecate or unpublish it, revoke the token that made it)`)
  } else if (alarms > 0) {
    lines.push(`no new alarms (${alarms} reported before)`)
  } else if (report.unchecked.length === 0) {
    lines.push('every release is explained')
  }
  return lines.join('\n')
}

function statusText(verdict: Verdict): string {
  if (verdict.status !== 'alarm') return verdict.status
  return `ALARM ${verdict.alarm}${verdict.reportedBefore ? ' (reported before)' : ''}`
}
