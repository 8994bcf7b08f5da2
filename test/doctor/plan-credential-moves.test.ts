import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyMoves, planCredentialMoves} from '../../src/doctor/plan-credential-moves.js'
import {makeTempDir} from '../helpers/temp-dir.js'

/** A home directory with `files` (relative path → text), planned. */
async function planFor(files: Record<string, string>) {
  const home = join(await makeTempDir(), 'home')
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(home, path, '..'), {recursive: true})
    await writeFile(join(home, path), text)
  }
  const plan = await planCredentialMoves({home, configHome: join(home, '.config')})
  const kept = plan.kept.map((entry) => `${entry.file.slice(home.length + 1)}:${entry.line} ${entry.reason}`)
  return {home, plan, kept}
}

describe('planCredentialMoves', () => {
  it('names the environment variable each program reads', async () => {
    const {plan} = await planFor({
      '.npmrc': '//npm.pkg.github.com/:_authToken=ghp_pkgToken\n//registry.example/path/:_auth=bWU6cHc=\n',
      '.cargo/credentials.toml': '[registry]\ntoken = "cio_a"\n\n[registries.my-registry]\ntoken = "cio_b"\n',
    })
    expect(plan.moves.map((move) => [move.program, move.secret.variable, move.title])).toEqual([
      ['npm', 'npm_config_//npm.pkg.github.com/:_authToken', 'npm token for npm.pkg.github.com'],
      ['npm', 'npm_config_//registry.example/path/:_auth', 'npm login for registry.example/path'],
      ['cargo', 'CARGO_REGISTRY_TOKEN', 'crates.io token'],
      ['cargo', 'CARGO_REGISTRIES_MY_REGISTRY_TOKEN', 'cargo token for registry my-registry'],
    ])
  })

  it('keeps, with a reason, what one variable cannot stand for', async () => {
    const {plan, kept} = await planFor({
      '.npmrc': '_authToken=unscopedToken\n//r.example/:_authToken=one\n//r.example/:_authToken=two\n',
      '.config/gh/hosts.yml': 'github.com:\n    users:\n        me:\n            oauth_token: gho_me\n        work:\n            oauth_token: gho_work\nghe.example.com:\n    oauth_token: gho_enterprise\n',
      '.aws/credentials': '[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\naws_session_token = t1\n',
      '.cargo/credentials.toml': '[registry]\ntoken = "cio_new"\n',
      '.cargo/credentials': '[registry]\ntoken = "cio_old"\n',
    })
    expect(plan.moves).toEqual([])
    expect(kept).toEqual([
      '.npmrc:1 it is scoped to no registry (npm 9 and later refuse such lines): write it as //host/:_authToken, then run --fix again',
      '.npmrc:2 //r.example/:_authToken is set more than once in the file: keep one, then run --fix again',
      '.npmrc:3 //r.example/:_authToken is set more than once in the file: keep one, then run --fix again',
      ".config/gh/hosts.yml:8 only github.com's token is moved: GH_ENTERPRISE_TOKEN would stand for every GitHub Enterprise host",
      '.config/gh/hosts.yml:4 github.com has tokens of more than one account here: GH_TOKEN can hold one (gh auth switch, gh auth logout the others)',
      '.config/gh/hosts.yml:6 github.com has tokens of more than one account here: GH_TOKEN can hold one (gh auth switch, gh auth logout the others)',
      '.aws/credentials:3 these are temporary credentials (aws_session_token): they expire by themselves',
      '.cargo/credentials.toml:2 CARGO_REGISTRY_TOKEN would stand for more than one entry: keep one, then run --fix again',
      '.cargo/credentials:2 CARGO_REGISTRY_TOKEN would stand for more than one entry: keep one, then run --fix again',
    ])
  })

  it('takes a ${VAR} placeholder for what it is: nothing to move', async () => {
    const {plan} = await planFor({'.npmrc': '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n', '.pypirc': '[pypi]\npassword = ${PYPI}\n'})
    expect(plan).toMatchObject({moves: [], kept: []})
  })
})

describe('applyMoves', () => {
  it('turns the first removed line into a comment with its indentation and line ending, removes the others, keeps the rest', async () => {
    const text = '[default]\r\n  aws_access_key_id = AKIA1\r\n  aws_secret_access_key = s1\r\nregion = x\r\n'
    const {plan} = await planFor({'.aws/credentials': text})

    const result = applyMoves(text, plan.moves, (move) => `# ${move.program} moved`)

    expect(result).toBe('[default]\r\n  # aws moved\r\nregion = x\r\n')
  })
})
