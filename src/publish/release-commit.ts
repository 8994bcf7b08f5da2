import {execa} from 'execa'

import {PolicyError, UsageError} from '../errors.js'

/** The commit a release is made from, as preflight established it. */
export interface ReleaseCommit {
  commit: string
  tag: string
  /** Who signed the tag (`principal` for SSH, the key fingerprint for GPG), or null when unsigned tags are allowed. */
  signer: string | null
}

/**
 * Preflight (publishing.md §7): the work tree is clean, HEAD carries the release tag of `version`
 * (`v1.2.3` or `1.2.3`), and that tag is signed and verifies, gated on git's exit code (git prints
 * "Good signature" even for a key that is not in allowed_signers, and exits 1).
 */
export async function verifyReleaseCommit(
  repository: string,
  version: string,
  options: {signedTags: boolean; environment: Readonly<Record<string, string | undefined>>},
): Promise<ReleaseCommit> {
  const git = (args: string[], reject = true) => runGit(repository, args, options.environment, reject)
  const status = await git(['status', '--porcelain', '--untracked-files=normal'])
  if (status.stdout.trim() !== '') {
    const changed = status.stdout.trim().split('\n').length
    throw new PolicyError(`the work tree has ${changed} uncommitted change${changed === 1 ? '' : 's'}`, {
      code: 'PUBLISH_DIRTY_TREE',
      hint: 'commit or stash them: a release is built from exactly the tagged commit',
    })
  }
  const commit = (await git(['rev-parse', 'HEAD'])).stdout.trim()
  const tags = (await git(['tag', '--points-at', 'HEAD'])).stdout.split('\n').filter(Boolean)
  const tag = [`v${version}`, version].find((candidate) => tags.includes(candidate))
  if (!tag) {
    throw new PolicyError(`HEAD is not tagged v${version}${tags.length > 0 ? ` (it has ${tags.join(', ')})` : ''}`, {
      code: 'PUBLISH_TAG_MISSING',
      hint: `tag the release commit with a signed tag: git tag -s v${version} -m v${version}; the tag must match the version in package.json`,
    })
  }
  if (!options.signedTags) return {commit, tag, signer: null}

  const verified = await git(['verify-tag', '--raw', tag], false)
  const output = `${verified.stderr}\n${verified.stdout}`
  if (verified.exitCode !== 0) {
    throw new PolicyError(`tag ${tag} ${describeTagFailure(output)}`, {
      code: 'PUBLISH_TAG_UNVERIFIED',
      hint: 'sign release tags with a key git trusts (gpg, or ssh with gpg.ssh.allowedSignersFile), or set signed_tags = false under [publish] in the profile',
    })
  }
  return {commit, tag, signer: findSigner(output)}
}

function describeTagFailure(output: string): string {
  if (/non-tag object/.test(output)) return 'is a lightweight tag, which cannot be signed'
  if (/no signature found/i.test(output)) return 'is not signed'
  if (/No principal matched|allowedSignersFile needs to be configured/i.test(output)) return 'is signed by a key that is not in your allowed signers'
  if (/BADSIG|Bad signature|Could not verify signature/i.test(output)) return 'has a signature that does not verify'
  return 'does not verify'
}

/** The signer, from `git verify-tag --raw`: GnuPG's VALIDSIG fingerprint, or the SSH principal. */
function findSigner(output: string): string {
  const gpg = /\[GNUPG:\] VALIDSIG ([0-9A-F]{40})/.exec(output)
  if (gpg) return `gpg ${gpg[1]}`
  const ssh = /Good "git" signature for (\S+) with (\S+) key (SHA256:\S+)/.exec(output)
  if (ssh) return `ssh ${ssh[1]} ${ssh[3]}`
  return 'verified'
}

/**
 * git in the maintainer's checkout, with the settings that would run repository-controlled code
 * turned off (sandbox.md §4.3: fsmonitor and hooks).
 */
function runGit(repository: string, args: string[], environment: Readonly<Record<string, string | undefined>>, reject: boolean) {
  return execa('git', ['-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', ...args], {cwd: repository, env: environment, extendEnv: false, reject}).catch((error: unknown) => {
    throw new UsageError(`git ${args[0]} failed in ${repository}: ${String((error as {stderr?: string}).stderr ?? error).trim().split('\n')[0]}`, {
      code: 'PUBLISH_NOT_A_REPOSITORY',
      hint: 'run secure publish in the git checkout of the package',
      cause: error,
    })
  })
}
