import {execFileSync} from 'node:child_process'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {readUserConfig} from '../../src/profile/user-config.js'
import {findFilesContaining, givenCliWorkspace} from '../helpers/cli.js'
import {snapshotFiles} from '../helpers/file-tree.js'

/** Every secret value planted below: none may ever appear in secure doctor's output. */
const SECRETS = {
  npm: 'npm_plantedTokenInNpmrc000000000000',
  projectNpm: 'npm_plantedTokenInProjectNpmrc00000',
  pypi: 'pypi-plantedPasswordInPypirc0000',
  netrc: 'plantedNetrcPassword0000',
  docker: Buffer.from('me:plantedDockerPassword0000').toString('base64'),
  gh: 'gho_plantedGithubCliToken000000000000',
  aws: 'plantedAwsSecretAccessKey000000000000000',
  cargo: 'cio_plantedCargoToken00000000000000',
  git: 'plantedGitStorePassword0000',
  environment: 'ghp_ambientTokenThatMustNotLeak000000',
}

/** A home directory with one credential of each kind doctor knows. */
async function givenLeakyHome() {
  const workspace = await givenCliWorkspace()
  const {home, repository} = workspace
  const write = async (path: string, content: string) => {
    await mkdir(join(path, '..'), {recursive: true})
    await writeFile(path, content)
  }
  await write(join(home, '.npmrc'), `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${SECRETS.npm}\n//npm.example/:_authToken=\${NPM_TOKEN}\n`)
  await write(join(repository, '.npmrc'), `//registry.npmjs.org/:_authToken=${SECRETS.projectNpm}\n`)
  await write(join(home, '.pypirc'), `[pypi]\nusername = __token__\npassword = ${SECRETS.pypi}\n`)
  await write(join(home, '.netrc'), `machine api.example.com login me password ${SECRETS.netrc}\n`)
  await write(join(home, '.docker', 'config.json'), JSON.stringify({auths: {'ghcr.io': {auth: SECRETS.docker}, 'registry.example': {}}}))
  await write(join(home, '.config', 'gh', 'hosts.yml'), `github.com:\n    user: me\n    oauth_token: ${SECRETS.gh}\n`)
  await write(join(home, '.aws', 'credentials'), `[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = ${SECRETS.aws}\n`)
  await write(join(home, '.cargo', 'credentials.toml'), `[registry]\ntoken = "${SECRETS.cargo}"\n`)
  await write(join(home, '.git-credentials'), `https://me:${SECRETS.git}@github.com\n`)
  await mkdir(join(home, '.ssh'), {recursive: true})
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'id_ed25519')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', join(home, '.ssh', 'id_protected')])
  return workspace
}

describe('secure doctor', () => {
  it('finds each kind of credential, says where, and never prints a value', async () => {
    const workspace = await givenLeakyHome()
    const result = await workspace.run(['doctor'])
    const where = [
      '~/.npmrc:2 (//registry.npmjs.org/)',
      '~/src/project/.npmrc:1',
      '~/.pypirc:3',
      '~/.netrc:1 (api.example.com)',
      '~/.docker/config.json (ghcr.io)',
      '~/.config/gh/hosts.yml:3',
      '~/.aws/credentials:3',
      '~/.cargo/credentials.toml:2',
      '~/.git-credentials:1 (github.com)',
      '~/.ssh/id_ed25519',
      'environment: GITHUB_TOKEN',
    ]
    for (const place of where) expect(result.stdout).toContain(place)
    // A ${VAR} placeholder, a login without a stored secret and a key with a passphrase are fine.
    expect(result.stdout).not.toContain('npm.example')
    expect(result.stdout).not.toContain('registry.example')
    expect(result.stdout).not.toContain('id_protected')
    expect(result.stdout).toMatch(/^HIGH {4}npm token: ~\/\.npmrc:2/m)
    expect(result.stdout).toMatch(/^MEDIUM  SSH private key without a passphrase: ~\/\.ssh\/id_ed25519 \[sha256:[0-9a-f]{12}\]/m)
    expect(result.stdout).toContain('LOW     the shell hook is not installed')
    for (const value of Object.values(SECRETS)) expect(result.stdout + result.stderr).not.toContain(value)
    expect(result.exitCode).toBe(1)
  })

  it('--json gives the same findings for scripts, values still withheld', async () => {
    const workspace = await givenLeakyHome()
    const result = await workspace.run(['doctor', '--json'])
    const {findings} = JSON.parse(result.stdout) as {findings: Array<{severity: string; what: string; where: string; fingerprint: string | null}>}
    expect(findings.filter((finding) => finding.severity === 'high')).toHaveLength(9)
    expect(findings.find((finding) => finding.where === 'environment: GITHUB_TOKEN')?.fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/)
    for (const value of Object.values(SECRETS)) expect(result.stdout).not.toContain(value)
    expect(result.exitCode).toBe(1)
  })

  it('a clean machine with the hook installed exits 0', async () => {
    const workspace = await givenCliWorkspace()
    await writeFile(join(workspace.home, '.bashrc'), 'eval "$(secure hook bash)"\n')
    const result = await workspace.run(['doctor'], {env: {GITHUB_TOKEN: '', OP_DOUBLE_VAULT: '', OP_DOUBLE_CALLS: ''}})
    expect(result.stdout).toBe('no credentials found where other programs can read them')
    expect(result.exitCode).toBe(0)
  })
})

describe('secure doctor --fix, through the op CLI (its test double)', () => {
  /** The credentials --fix moves out of the leaky home: the rest stays, with advice. */
  const MOVED = [SECRETS.npm, SECRETS.pypi, SECRETS.gh, SECRETS.aws, SECRETS.cargo]

  it('moves the tokens into 1Password with op item create, never in argv, and the config names them', async () => {
    const workspace = await givenLeakyHome()

    const result = await workspace.run(['doctor', '--fix', '--yes', '--vault', 'Private'])

    // netrc, Docker, git's store and the project's .npmrc stay: high findings remain.
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('Moved 5 credentials into 1Password vault "Private"')
    expect(result.stdout).toMatch(/^ {2}HIGH {4}netrc password: ~\/\.netrc:1 \(api\.example\.com\) \[sha256:[0-9a-f]{12}\]$/m)
    // Out of every file under the home directory, into the double's vault.
    for (const value of MOVED) expect(await findFilesContaining([workspace.home], value, 0)).toEqual([])
    const vault = await readFile(workspace.op.vaultFile, 'utf8')
    for (const value of MOVED) expect(vault).toContain(value)
    // op got the secrets on stdin only; nothing printed holds one.
    const calls = JSON.stringify(await workspace.op.calls())
    expect(calls).toContain('["item","create","--vault","hu5ekhd4ogjxa6lqcgsztoyu4e","--format","json","-"]')
    for (const value of Object.values(SECRETS)) {
      expect(calls).not.toContain(value)
      expect(result.stdout + result.stderr).not.toContain(value)
    }
    // The config holds references that op resolves to the values.
    const entry = (await readUserConfig(workspace.configFile, workspace.home)).directories.find((candidate) => candidate.directory === workspace.home)!
    expect(entry.settings.secrets.get('npm_config_//registry.npmjs.org/:_authToken')).toMatch(/^op:\/\/hu5ekhd4ogjxa6lqcgsztoyu4e\/[a-z2-7]{26}\/password$/)
    const status = await workspace.run(['status'], {cwd: workspace.home})
    expect(status.stdout).toMatch(/^commands {4}npm: npm_config_\/\/registry\.npmjs\.org\/:_authToken; twine: TWINE_PASSWORD; gh: GH_TOKEN; cargo: CARGO_REGISTRY_TOKEN; aws: AWS_SECRET_ACCESS_KEY, AWS_ACCESS_KEY_ID; others: none$/m)
    // A second look finds none of them.
    const after = await workspace.run(['doctor'])
    expect(after.stdout).not.toMatch(/~\/\.npmrc:|~\/\.pypirc|hosts\.yml|\.aws\/credentials|credentials\.toml/)
  })

  it('changes no file when op cannot store an item', async () => {
    const workspace = await givenLeakyHome()
    const before = await snapshotFiles(workspace.home, ['.local/state'])

    const result = await workspace.run(['doctor', '--fix', '--yes', '--vault', 'Private'], {env: {OP_DOUBLE_FAIL: 'no-network', OP_DOUBLE_FAIL_COMMANDS: 'item create'}})

    expect(result.exitCode).toBe(69)
    expect(result.stderr).toMatch(/^secure: error: cannot reach 1Password\nhint: /)
    expect(await snapshotFiles(workspace.home, ['.local/state'])).toEqual(before)
    for (const value of Object.values(SECRETS)) expect(result.stdout + result.stderr).not.toContain(value)
  })

  it('without a terminal and without --yes, shows the plan and changes nothing', async () => {
    const workspace = await givenLeakyHome()
    const before = await snapshotFiles(workspace.home)

    const result = await workspace.run(['doctor', '--fix', '--vault', 'Private'])

    expect(result.exitCode).toBe(77)
    expect(result.stdout).toContain('these 5 credentials move into 1Password vault "Private"')
    expect(result.stderr).toContain('no terminal to confirm the move on: nothing was changed')
    expect(await snapshotFiles(workspace.home)).toEqual(before)
    expect(JSON.stringify(await workspace.op.calls())).not.toContain('create')
  })
})
