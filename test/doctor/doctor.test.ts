import {execFileSync} from 'node:child_process'
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {givenCliWorkspace} from '../helpers/cli.js'

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
