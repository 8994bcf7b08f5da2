import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'
import {EXIT_CODES} from '../errors.js'

export default class Watch extends SecureCommand {
  static override summary = 'Alarm on a release of your package that you did not make.'
  static override description = `Reads every version of each watched package ([watch] npm, pypi and crates in your config, or the arguments: NAME for npm, pypi:NAME, crates:NAME) and explains it: "recorded" (secure publish uploaded these exact bytes) or "provenance" (npm provenance verified with Sigstore, or crates.io trusted publishing, from the repository you name under [watch.provenance."NAME"]). Anything else alarms: a version nothing explains, other bytes than recorded, a file added to a release, provenance from elsewhere or that does not verify, a downgrade (no provenance after versions with it, a person after a trusted publisher), a dist-tag on an unexplained version. Each alarm is reported once. Exit codes: 0 nothing new, 1 a new alarm, 69 something could not be checked.`

  static override enableJsonFlag = true
  static override strict = false
  static override examples = ['<%= config.bin %> watch', '<%= config.bin %> watch my-package pypi:my-project crates:my-crate --since 30d', '<%= config.bin %> watch --json']
  static override args = {packages: Args.string({ignoreStdin: true, description: 'Packages to check: NAME (npm), pypi:NAME or crates:NAME [default: [watch] in your config].'})}
  static override flags = {
    'npm-registry': Flags.string({description: 'The npm registry to read [default: npm_registry under [watch], else https://registry.npmjs.org/].'}),
    'pypi-json-api': Flags.string({description: 'PyPI\'s JSON API [default: pypi_json_api under [watch], else https://pypi.org/pypi/].'}),
    'crates-api': Flags.string({description: 'The crates.io web API [default: crates_api under [watch], else https://crates.io].'}),
    since: Flags.string({description: 'Only judge versions published since a date (2026-11-01) or for a time (30d, 12h).'}),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Watch)
    const [{watchReleases}, {formatWatchReport}, {chooseWatchedPackages, parseSince}] = await Promise.all([
      import('../watch/watch-releases.js'),
      import('../watch/format-watch-report.js'),
      import('../watch/watched-packages.js'),
    ])
    // TUF's client is loaded only when a version has provenance to verify.
    const loadTrust = async () => (await import('../watch/sigstore-trust.js')).loadSigstoreTrust(this.paths.cacheDirectory)
    const since = parseSince(flags.since, new Date())
    const packages = await chooseWatchedPackages(argv as string[], {npmRegistry: flags['npm-registry'], pypiJsonApi: flags['pypi-json-api'], cratesApi: flags['crates-api']}, this.paths)
    const report = await watchReleases(
      {packages, since},
      {auditLog: this.paths.auditLog, statePath: this.paths.watchState, loadTrust},
    )
    if (!this.jsonEnabled()) this.output.result(formatWatchReport(report))
    // cron, systemd timers and CI act on these: an alarm outranks a package that could not be read.
    if (report.newAlarms > 0) this.setExitCode(1)
    else if (report.unchecked.length > 0) this.setExitCode(EXIT_CODES.environment)
    return report
  }
}
