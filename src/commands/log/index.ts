import {SecureCommand} from '../../base-command.js'

export default class Log extends SecureCommand {
  static override summary = 'Show the audit log: which command got which secret references, when, and how it ended.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> log', '<%= config.bin %> log --json', '<%= config.bin %> log verify']

  async run(): Promise<unknown> {
    await this.parse(Log)
    const {readAuditLog, formatAuditRecord} = await import('../../audit/index.js')
    const records = await readAuditLog(this.paths.auditLog)
    if (!this.jsonEnabled()) {
      this.output.result(records.length > 0 ? records.map((record) => formatAuditRecord(record, this.paths.home)).join('\n') : 'the audit log is empty')
    }
    return records
  }
}
