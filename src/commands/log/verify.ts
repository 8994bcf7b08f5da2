import {SecureCommand} from '../../base-command.js'

export default class LogVerify extends SecureCommand {
  static override summary = 'Check that no audit record was edited, removed or reordered.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> log verify']

  async run(): Promise<unknown> {
    await this.parse(LogVerify)
    const {verifyAuditLog} = await import('../../audit/index.js')
    const verification = await verifyAuditLog(this.paths.auditLog)
    if (!this.jsonEnabled()) {
      if (verification.ok) this.output.result(`audit log intact: ${verification.records} records`)
      else for (const problem of verification.problems) this.output.result(problem.message)
    }
    // A tampered log is a finding, not a crash: exit 1 so scripts can alarm on it.
    if (!verification.ok) this.setExitCode(1)
    return verification
  }
}
