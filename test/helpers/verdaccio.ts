import {createHash, randomBytes} from 'node:crypto'
import {access, constants, mkdtemp, readFile, realpath, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

/** Where `scripts/lib/verdaccio.sh` (ensure_verdaccio) installs Verdaccio, when SECURE_VERDACCIO_BIN is not set. */
const defaultBin = fileURLToPath(new URL('../../.tools/verdaccio/node_modules/.bin/verdaccio', import.meta.url))

export type VerdaccioRegistry = {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string
  /** `127.0.0.1:PORT`, as in npm's nerf-darted keys (`//HOST/:_authToken`). */
  host: string
  /** A token of `user`, good for publishing. */
  token: string
  user: string
  /** The temp dir holding config, htpasswd, storage and logs; removed by stop(). */
  directory: string
  /** Stops Verdaccio (SIGTERM, SIGKILL after 3 s) and removes `directory`. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts a real npm registry (Verdaccio) on 127.0.0.1 with an empty storage, no uplinks (it never proxies
 * to another registry), and a user with a token. The caller must call stop(): nothing here depends on
 * onTestFinished, so it works from beforeAll/afterAll as well as inside a test.
 *
 * lockedDown: the user is pre-seeded in htpasswd and self-registration is off (`max_users: -1`), as a
 * registry that only knows its own users; the token is then obtained with the user's password (Basic auth).
 */
export async function startVerdaccio(options: {lockedDown?: boolean} = {}): Promise<VerdaccioRegistry> {
  const bin = process.env.SECURE_VERDACCIO_BIN ?? defaultBin
  try {
    await access(bin, constants.R_OK)
  } catch {
    throw new Error(`Verdaccio is not installed (${bin} is missing): run scripts/test, or \`source scripts/lib/verdaccio.sh && ensure_verdaccio\``)
  }

  const directory = await realpath(await mkdtemp(join(tmpdir(), 'secure-verdaccio-')))
  const logFile = join(directory, 'verdaccio.log')
  const outputFile = join(directory, 'output.log')
  const user = 'secure-ci'
  const password = randomBytes(12).toString('hex')
  if (options.lockedDown) {
    const digest = createHash('sha1').update(password).digest('base64')
    await writeFile(join(directory, 'htpasswd'), `${user}:{SHA}${digest}:autocreated\n`, {mode: 0o600})
  }
  const rules = {access: '$all', publish: '$authenticated', unpublish: '$authenticated'}
  // JSON is YAML: no YAML library needed, and every path is quoted.
  const config = {
    storage: join(directory, 'storage'),
    auth: {htpasswd: {file: join(directory, 'htpasswd'), max_users: options.lockedDown ? -1 : 100}},
    uplinks: {},
    packages: {'@*/*': rules, '**': rules},
    web: {enable: false},
    log: {type: 'file', path: logFile, format: 'json', level: 'warn'},
  }
  await writeFile(join(directory, 'config.yaml'), `${JSON.stringify(config, undefined, 2)}\n`)

  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const url = `http://${host}`
  // Run the bin with this Node (the one running the tests, >= 22), whatever `node` is first on PATH.
  const child = execa(process.execPath, [bin, '--config', join(directory, 'config.yaml'), '--listen', host], {
    cwd: directory,
    detached: false,
    stdin: 'ignore',
    stdout: {file: outputFile, append: true},
    stderr: {file: outputFile, append: true},
    reject: false,
  })
  let exited = false
  const exit = child.then((result) => {
    exited = true
    return result
  })

  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exit
        clearTimeout(timer)
      }
      await rm(directory, {recursive: true, force: true})
    })()
    return stopped
  }

  try {
    await waitForPing(url, () => exited, () => logTail(outputFile, logFile))
    const token = await createToken(url, user, password, options.lockedDown ?? false)
    return {url, host, token, user, directory, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * The environment that hands `registry.token` to npm for that registry only: the nerf-darted
 * `npm_config_//HOST/:_authToken`, as secure does (never in a file).
 */
export function npmPublishEnvironment(registry: {host: string; token: string}): Record<string, string> {
  return {[`npm_config_//${registry.host}/:_authToken`]: registry.token}
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('could not read the port of a listening socket')
  return address.port
}

async function waitForPing(url: string, hasExited: () => boolean, tail: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (hasExited()) throw new Error(`Verdaccio exited before it answered ${url}/-/ping; its output:\n${await tail()}`)
    const response = await fetch(`${url}/-/ping`, {signal: AbortSignal.timeout(2000)}).catch(() => undefined)
    if (response?.status === 200) return
    if (Date.now() > deadline) throw new Error(`Verdaccio did not answer ${url}/-/ping within 30 s; its output:\n${await tail()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Creates the user (or, locked down, logs in as the pre-seeded one) through the CouchDB user API; returns its token. */
async function createToken(url: string, user: string, password: string, existing: boolean): Promise<string> {
  const headers: Record<string, string> = {'content-type': 'application/json'}
  if (existing) headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const response = await fetch(`${url}/-/user/org.couchdb.user:${encodeURIComponent(user)}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({name: user, password}),
    signal: AbortSignal.timeout(10_000),
  })
  const body = await response.text()
  const token = response.status === 201 ? (JSON.parse(body) as {token?: unknown}).token : undefined
  if (typeof token !== 'string' || token === '') throw new Error(`Verdaccio did not give a token for ${user}: HTTP ${response.status} ${body}`)
  return token
}

async function logTail(...files: string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (file) => {
      const text = await readFile(file, 'utf8').catch(() => '')
      return text.trim() === '' ? '' : text.trim().split('\n').slice(-20).join('\n')
    }),
  )
  return parts.filter((part) => part !== '').join('\n') || '(no output)'
}
