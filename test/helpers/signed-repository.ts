import {execFileSync} from 'node:child_process'
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/**
 * A package's git repository whose release tags can be signed for real: an SSH key (git >= 2.34)
 * with an allowed-signers file, and a GnuPG key in a private GNUPGHOME. `git` runs with that
 * configuration through GIT_CONFIG_GLOBAL and GNUPGHOME, so the user's own settings never join in.
 */
export async function givenSignedRepository(root: string, manifest: object | null = {name: 'secure-release-check', version: '1.0.0'}, files: Record<string, string> = {}) {
  const repository = join(root, 'package')
  const keys = join(root, 'keys')
  const gnupgHome = join(root, 'gnupg')
  await mkdir(repository, {recursive: true})
  await mkdir(keys, {mode: 0o700})
  await mkdir(gnupgHome, {mode: 0o700})
  const globalConfig = join(root, 'gitconfig')
  const environment = {...process.env, GIT_CONFIG_GLOBAL: globalConfig, GIT_CONFIG_NOSYSTEM: '1', GNUPGHOME: gnupgHome, HOME: root}
  const run = (command: string, args: string[], cwd = repository) => execFileSync(command, args, {cwd, env: environment, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})

  // The maintainer's SSH key, trusted through allowed_signers; a stranger's key, not trusted.
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'maintainer', '-f', join(keys, 'maintainer')], root)
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', join(keys, 'stranger')], root)
  const publicKey = execFileSync('cat', [join(keys, 'maintainer.pub')], {encoding: 'utf8'}).trim()
  await writeFile(join(keys, 'allowed_signers'), `maintainer@example.com namespaces="git" ${publicKey}\n`)
  // A GnuPG key without a passphrase, trusted ultimately as a key one made oneself is.
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Maintainer <maintainer@example.com>', 'ed25519', 'sign', 'never'], root)
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(run('gpg', ['--batch', '--with-colons', '--list-secret-keys'], root))![1]!
  await writeFile(
    globalConfig,
    `[user]\n\tname = Maintainer\n\temail = maintainer@example.com\n[gpg "ssh"]\n\tallowedSignersFile = ${join(keys, 'allowed_signers')}\n[init]\n\tdefaultBranch = main\n`,
  )

  run('git', ['init', '-q'])
  // A package.json unless the package is not an npm one (`manifest` null).
  if (manifest) await writeFile(join(repository, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  await writeFile(join(repository, 'index.js'), 'export const answer = 42\n')
  for (const [name, content] of Object.entries(files)) await writeFile(join(repository, name), content)
  run('git', ['add', '-A'])
  run('git', ['commit', '-qm', 'release'])

  const sign = {
    ssh: (tag: string, key: 'maintainer' | 'stranger' = 'maintainer') =>
      run('git', ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(keys, `${key}.pub`)}`, 'tag', '-s', '-m', tag, tag]),
    gpg: (tag: string) => run('git', ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fingerprint}`, 'tag', '-s', '-m', tag, tag]),
    annotated: (tag: string) => run('git', ['tag', '-a', '-m', tag, tag]),
    lightweight: (tag: string) => run('git', ['tag', tag]),
  }
  return {repository, environment, fingerprint, sign, git: (args: string[]) => run('git', args)}
}
