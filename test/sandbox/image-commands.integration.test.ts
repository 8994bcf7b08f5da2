import {describe, expect, it} from 'vitest'

import {findEngines, givenSandboxWorkspace} from '../helpers/engines.js'

const engines = await findEngines()

describe.each(engines)('secure image on $name', {timeout: 240_000}, (engine) => {
  it('builds the plain image from its template on the configured base, and lists it as current', async () => {
    const workspace = await givenSandboxWorkspace(engine)
    const built = await workspace.run(['image', 'build', 'base', '--engine', engine.url])
    expect(built.stderr, built.stderr).toMatch(/^secure: building localhost\/secure\/base:bookworm\n(?:  .*\n)*secure: built localhost\/secure\/base:bookworm in \d+ s$/)
    expect(built.exitCode).toBe(0)

    const listed = await workspace.run(['image', 'list', '--json', '--engine', engine.url])
    const {images} = JSON.parse(listed.stdout) as {images: Array<{name: string; state: string; builtFrom: string}>}
    expect(images.find((image) => image.name === 'base:bookworm')).toMatchObject({state: 'current', builtFrom: 'secure-base:bookworm'})
    expect(images.map((image) => image.name)).toEqual(['base:bookworm', 'node:22', 'node:24', 'node:26', 'python:3.11-3.13', 'rust:1.85'])
  })

  it('refuses an image it has no template for, in one line naming the ones it has', async () => {
    const workspace = await givenSandboxWorkspace(engine)
    const result = await workspace.run(['image', 'build', 'node:18', '--engine', engine.url])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe('secure: error: there is no node image "node:18"\nhint: choose one of: node:22, node:24, node:26')
  })

  it('says in one line when the base image is not on the engine', async () => {
    const workspace = await givenSandboxWorkspace(engine)
    const result = await workspace.run(['image', 'build', 'python', '--engine', engine.url], {env: {XDG_CONFIG_HOME: `${workspace.root}/no-config`}})
    expect(result.exitCode).toBe(69)
    expect(result.stderr).toMatch(/\nsecure: error: the base image debian:bookworm-slim is not on this engine\nhint: pull it \(docker pull debian:bookworm-slim\), or set base_image[^\n]*$/)
  })
})
