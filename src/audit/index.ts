/** The append-only, hash-chained audit log: see {@link appendAuditRecord} and {@link verifyAuditLog}. */
export {
  GENESIS_HASH,
  appendAuditRecord,
  auditHeadPath,
  describeCommand,
  hashAuditRecord,
  readAuditLog,
  verifyAuditLog,
} from './audit-log.js'
export type {AuditContext, AuditEntry, AuditProblem, AuditProblemKind, AuditRecord, AuditVerification} from './audit-log.js'
export {formatAuditRecord} from './format-audit-record.js'
