import {EventEmitter} from 'node:events'
import {once} from 'node:events'
import {PassThrough} from 'node:stream'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {type RunChildOptions, runChild} from '../../src/exec/run-child.js'
import {MASK_REPLACEMENT} from '../../src/exec/masking.js'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/bin/${name}`, import.meta.url))

/**
 * A child whose output is captured. A value to mask routes stdout and stderr through `secure`
 * (with nothing to mask the child would write to the real terminal instead).
 */
function givenChild(command: string, args: string[], overrides: Partial<RunChildOptions> = {}) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const output = {stdout: '', stderr: ''}
  stdout.on('data', (chunk) => (output.stdout += chunk))
  stderr.on('data', (chunk) => (output.stderr += chunk))
  const signals = new EventEmitter()
  const options: RunChildOptions = {
    command,
    args,
    cwd: process.cwd(),
    environment: {PATH: process.env.PATH!},
    maskValues: ['a-value-that-is-never-printed'],
    stdout,
    stderr,
    interactive: false,
    signals,
    ...overrides,
  }
  return {options, output, signals, stdout}
}

describe('runChild', () => {
  it.each([0, 1, 3, 255])('exits with the child\'s own code %i', async (code) => {
    const {options} = givenChild(process.execPath, [fixture('exit-with.js'), String(code)])
    expect(await runChild(options)).toEqual({exitCode: code, signal: undefined})
  })

  it('exits 128 + the signal when the child is killed by one', async () => {
    const {options} = givenChild('sh', ['-c', 'kill -TERM $$'])
    expect(await runChild(options)).toEqual({exitCode: 143, signal: 'SIGTERM'})
  })

  it('exits 127 with a clear error for a missing command', async () => {
    const {options} = givenChild('no-such-command-here', [])
    await expect(runChild(options)).rejects.toMatchObject({message: 'command not found: no-such-command-here', exitCode: 127})
  })

  it('exits 126 for a file that is not executable', async () => {
    const {options} = givenChild('/etc/passwd', [])
    await expect(runChild(options)).rejects.toMatchObject({exitCode: 126})
  })

  it.each(['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'])('forwards %s to the child when not attached to a terminal', async (signal) => {
    const {options, output, signals, stdout} = givenChild(process.execPath, [fixture('wait-for-signal.js'), signal])
    const running = runChild(options)
    await once(stdout, 'data')
    signals.emit(signal, signal)
    expect(await running).toEqual({exitCode: 41, signal: undefined})
    expect(output.stdout).toContain(`got ${signal}`)
  })

  it('does not forward SIGINT a second time in a terminal, where the child already got it from the terminal', async () => {
    const {options, output, signals, stdout} = givenChild(process.execPath, [fixture('wait-for-signal.js'), 'SIGTERM'], {interactive: true})
    const running = runChild(options)
    await once(stdout, 'data')
    signals.emit('SIGINT', 'SIGINT')
    signals.emit('SIGTERM', 'SIGTERM')
    expect(await running).toEqual({exitCode: 41, signal: undefined})
    expect(output.stdout).not.toContain('got SIGINT')
  })

  it('gives the child the real stdout when there is nothing to mask', async () => {
    const {options, output} = givenChild('sh', ['-c', 'test -t 1 || echo piped'], {maskValues: []})
    expect(await runChild(options)).toMatchObject({exitCode: 0})
    expect(output.stdout).toBe('')
  })

  it('stops listening for signals once the child has exited', async () => {
    const {options, signals} = givenChild(process.execPath, [fixture('exit-with.js'), '0'])
    await runChild(options)
    expect(signals.listenerCount('SIGTERM')).toBe(0)
  })

  it('masks secret values in stdout and stderr', async () => {
    const secret = 'npm_Sup3rS3cretTokenValue'
    const {options, output} = givenChild(process.execPath, [fixture('show-env.js'), 'NPM_TOKEN', '--print-values'], {
      environment: {PATH: process.env.PATH!, NPM_TOKEN: secret},
      maskValues: [secret],
    })
    expect(await runChild(options)).toMatchObject({exitCode: 0})
    expect(output.stdout).toContain(`VALUE NPM_TOKEN=${MASK_REPLACEMENT}`)
    expect(output.stderr).toContain(`STDERR NPM_TOKEN=${MASK_REPLACEMENT}`)
    expect(output.stdout + output.stderr).not.toContain(secret)
  })
})

describe('runChild when the reader of its output goes away', () => {
  it('ends the child with SIGPIPE, as a shell pipeline would (`secure exec -- yes | head -1`)', async () => {
    const stdout = new PassThrough()
    stdout.once('data', () => stdout.destroy(Object.assign(new Error('write EPIPE'), {code: 'EPIPE'})))
    const outcome = await runChild({
      command: 'yes',
      args: [],
      cwd: process.cwd(),
      environment: {PATH: process.env.PATH!},
      maskValues: ['a-value-that-is-never-printed'],
      stdout,
      stderr: new PassThrough(),
      interactive: false,
      signals: new EventEmitter(),
    })
    expect(outcome).toEqual({exitCode: 141, signal: 'SIGPIPE'})
  })
})
