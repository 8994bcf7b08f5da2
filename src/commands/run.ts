import * as Flags from '@oclif/core/flags'

import {SecureCommand} from '../base-command.js'

export default class Run extends SecureCommand {
  static override summary = 'Run an untrusted repository\'s command in a container that holds no credentials.'
  static override description = `The repository is mounted read-only and copied into the container's throwaway workspace, so nothing the command writes reaches your checkout. The container gets no host environment (only TERM, LANG, TZ, CI and what --env names), no home directory, no SSH agent, no engine socket and no network; it runs as a non-root user with every capability dropped, no-new-privileges, a read-only root filesystem and memory, pids and CPU limits. The exit code is the command's.`

  static override examples = [
    '<%= config.bin %> run -- npm test',
    '<%= config.bin %> run --network -- sh -c "npm ci && npm test"',
    '<%= config.bin %> run --image python --out coverage.xml -- python -m pytest --cov --cov-report=xml',
  ]

  static override strict = false
  static override usage = 'run [FLAGS] -- COMMAND [ARGS...]'

  static override flags = {
    image: Flags.string({
      description: 'The image: one of secure\'s (base, node, node:22, node:24, node:26, python) or any image on the engine. Default: picked from the repository\'s files.',
    }),
    engine: Flags.string({description: 'The container engine: unix:///path.sock, tcp://host:2376 or ssh://user@host.'}),
    env: Flags.string({description: 'Pass this variable from your shell (repeatable; credential-looking names need --force-env).', multiple: true, default: []}),
    'force-env': Flags.boolean({description: 'Pass --env names even when they look like credentials.'}),
    network: Flags.boolean({description: 'Give the container a network (off by default; the profile may turn it on).', allowNo: true}),
    'require-rootless': Flags.boolean({description: 'Refuse a rootful engine.'}),
    memory: Flags.integer({description: 'Memory limit in MiB [default: 2048].', min: 16}),
    pids: Flags.integer({description: 'Process limit [default: 512].', min: 8}),
    cpus: Flags.integer({description: 'CPU limit [default: 2].', min: 1}),
    out: Flags.string({description: 'After the command, copy this file or directory from the workspace into your checkout (repeatable; regular files only).', multiple: true, default: []}),
  }

  async run(): Promise<void> {
    const {own, after} = this.splitAtSeparator()
    const {flags, argv} = await this.parse(Run, own)
    const command = this.commandLineFrom(argv, after)
    const {runSandbox} = await import('../sandbox/run-sandbox.js')
    const exitCode = await runSandbox(
      {
        repository: process.cwd(),
        command,
        image: flags.image,
        engine: flags.engine,
        passEnvironment: flags.env,
        forceEnvironment: flags['force-env'],
        network: flags.network,
        requireRootless: flags['require-rootless'],
        memory: flags.memory,
        pids: flags.pids,
        cpus: flags.cpus,
        outPaths: flags.out,
      },
      {
        environment: this.environment,
        paths: this.paths,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
        signals: process,
        notice: (line) => this.output.notice(line),
        progress: (title) => this.output.progress(title),
      },
    )
    this.setExitCode(exitCode)
  }
}
