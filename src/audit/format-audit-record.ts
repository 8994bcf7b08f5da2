import {displayPath} from '../paths.js'
import {type AuditRecord} from './audit-log.js'

/** One audit record as a line for `secure log`: when, what, where, and the event's essentials. */
export function formatAuditRecord(record: AuditRecord, home: string): string {
  const details = record.details as {
    command?: {program?: string}
    secrets?: string[]
    exitCode?: number
    signal?: string | null
    error?: string
    file?: string
  }
  const parts = [record.time, `#${record.seq}`, record.event.padEnd(13), displayPath(record.cwd, home)]
  if (details.command?.program) parts.push(details.command.program)
  if (details.secrets) parts.push(details.secrets.length > 0 ? `secrets: ${details.secrets.join(', ')}` : 'no secrets')
  if (details.exitCode !== undefined) parts.push(`exit ${details.exitCode}${details.signal ? ` (${details.signal})` : ''}`)
  if (details.error) parts.push(`failed: ${details.error}`)
  if (details.file) parts.push(displayPath(details.file, home))
  return parts.join('  ')
}
