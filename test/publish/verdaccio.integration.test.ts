import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {makeTempDir} from '../helpers/temp-dir.js'
import {type VerdaccioRegistry, npmPublishEnvironment, startVerdaccio} from '../helpers/verdaccio.js'

// npm must read no ~/.npmrc: no token or registry of the developer's may take part.
const npmEnvironment = {...process.env, npm_config_userconfig: '/dev/null'}

/** Packs a minimal package in a temp dir; returns the tarball's absolute path and npm's integrity for it. */
async function packPackage(name: string): Promise<{tarball: string; integrity: string}> {
  const directory = await makeTempDir()
  await writeFile(join(directory, 'package.json'), `${JSON.stringify({name, version: '1.0.0'})}\n`)
  await writeFile(join(directory, 'index.js'), 'module.exports = 42\n')
  const packed = await execa('npm', ['pack', '--json', '--ignore-scripts'], {cwd: directory, env: npmEnvironment, extendEnv: false, stdin: 'ignore'})
  const [entry] = JSON.parse(packed.stdout) as Array<{filename: string; integrity: string}>
  if (!entry) throw new Error(`npm pack printed no entry: ${packed.stdout}`)
  return {tarball: join(directory, entry.filename), integrity: entry.integrity}
}

/** `npm publish` of a tarball from an unrelated directory, the token given only through the environment. */
async function publish(registry: VerdaccioRegistry, tarball: string, token: string) {
  const cwd = await makeTempDir()
  return execa('npm', ['publish', tarball, '--ignore-scripts', '--registry', registry.url, '--tag', 'latest', '--access', 'public'], {
    cwd,
    env: {...npmEnvironment, ...npmPublishEnvironment({host: registry.host, token})},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
}

describe('the Verdaccio test registry', () => {
  let registry: VerdaccioRegistry

  beforeAll(async () => {
    registry = await startVerdaccio()
  }, 60_000)

  afterAll(async () => {
    await registry?.stop()
  })

  it('takes a tarball published with the token from the environment, and serves it with the packed integrity', async () => {
    const {tarball, integrity} = await packPackage('secure-harness-check')

    const published = await publish(registry, tarball, registry.token)
    expect(published.exitCode, published.stderr).toBe(0)
    expect(published.stdout).toContain('+ secure-harness-check@1.0.0')

    const response = await fetch(`${registry.url}/secure-harness-check`)
    expect(response.status).toBe(200)
    const packument = (await response.json()) as {'dist-tags': Record<string, string>; versions: Record<string, {dist: {integrity: string; tarball: string}}>}
    expect(packument['dist-tags']).toEqual({latest: '1.0.0'})
    expect(packument.versions['1.0.0']?.dist.integrity).toBe(integrity)
    expect(packument.versions['1.0.0']?.dist.tarball).toBe(`${registry.url}/secure-harness-check/-/secure-harness-check-1.0.0.tgz`)
  })

  it('refuses a publish with a wrong token, and the version does not appear', async () => {
    const {tarball} = await packPackage('secure-harness-denied')

    const published = await publish(registry, tarball, 'not-a-token-of-this-registry')
    expect(published.exitCode).not.toBe(0)
    expect(published.stderr).toMatch(/E401|\b40[13]\b/)

    const response = await fetch(`${registry.url}/secure-harness-denied`)
    expect(response.status).toBe(404)
  })
})

describe('the locked-down Verdaccio test registry', () => {
  it('knows only its pre-seeded user: the token works, and nobody can sign up', async () => {
    const registry = await startVerdaccio({lockedDown: true})
    onTestFinished(() => registry.stop())

    const whoami = await execa('npm', ['whoami', '--registry', registry.url], {
      env: {...npmEnvironment, ...npmPublishEnvironment(registry)},
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
    expect(whoami.exitCode, whoami.stderr).toBe(0)
    expect(whoami.stdout).toBe(registry.user)

    const signUp = await fetch(`${registry.url}/-/user/org.couchdb.user:intruder`, {
      method: 'PUT',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({name: 'intruder', password: 'intruder-password'}),
    })
    // Verdaccio 6.10 answers 409 "user registration disabled" (older versions answered 400).
    expect(signUp.status).toBe(409)
    expect(await signUp.text()).toContain('user registration disabled')
    const users = (await readFile(join(registry.directory, 'htpasswd'), 'utf8')).trim().split('\n')
    expect(users.map((line) => line.split(':')[0])).toEqual([registry.user])
  })
})
