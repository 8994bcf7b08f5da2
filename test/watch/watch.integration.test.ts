import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {findEngines} from '../helpers/engines.js'
import {givenReleaseRepository} from '../helpers/release-repository.js'
import {type VerdaccioRegistry, startVerdaccio} from '../helpers/verdaccio.js'

// secure publish builds in the sandbox: Docker is enough here (the sandbox is tested on both engines).
const docker = (await findEngines()).find((engine) => engine.name === 'Docker')
let registry: VerdaccioRegistry

describe.runIf(docker)('secure watch against a real registry (Verdaccio)', {timeout: 180_000}, () => {
  beforeAll(async () => {
    registry = await startVerdaccio()
  }, 60_000)
  afterAll(async () => registry?.stop())

  it('explains the version secure publish released, and alarms once on one published with the same token outside it', async () => {
    // Given a release made with secure publish.
    const release = await givenReleaseRepository({
      engine: docker!,
      publish: `npm_token = "op://Private/npm/credential"\nregistry = "${registry.url}"`,
      tokens: {npm: registry.token},
    })
    expect((await release.publish()).exitCode).toBe(0)

    // When the same token publishes 1.0.1 directly, as a worm that stole it would.
    const stolen = join(release.workspace.root, 'stolen')
    await mkdir(stolen)
    await writeFile(join(stolen, 'package.json'), JSON.stringify({name: release.name, version: '1.0.1', scripts: {postinstall: 'node steal.js'}}))
    await writeFile(join(stolen, 'steal.js'), '// exfiltrates tokens\n')
    const npm = await execa('npm', ['publish', '--registry', registry.url, '--userconfig', '/dev/null'], {
      cwd: stolen,
      env: {[`npm_config_//${registry.host}/:_authToken`]: registry.token, npm_config_update_notifier: 'false'},
      reject: false,
    })
    expect(npm.exitCode, npm.stderr).toBe(0)

    // Then secure watch explains 1.0.0, alarms on 1.0.1 and on latest now pointing at it, and only once.
    const watch = () => release.secure(['watch', release.name, '--npm-registry', registry.url])
    const first = await watch()
    const second = await watch()

    expect(first.exitCode, first.stderr).toBe(1)
    expect(first.stdout).toMatch(new RegExp(`${release.name}\\s+1\\.0\\.0\\s+\\S+ \\S+\\s+recorded\\s+published with secure publish, the same bytes`))
    expect(first.stdout).toMatch(new RegExp(`${release.name}\\s+1\\.0\\.1\\s+\\S+ \\S+\\s+ALARM unexplained\\s+no secure publish record and no provenance`))
    expect(first.stdout).toContain('the dist-tag latest points at 1.0.1, which nothing explains')
    expect(first.stdout).toContain('2 new alarms')
    expect(second.exitCode, second.stderr).toBe(0)
    expect(second.stdout).toContain('no new alarms (2 reported before)')
  })
})
