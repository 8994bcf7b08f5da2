// Throughput of `secure exec`'s output masking: a child's stdout piped through the masker, against
// the same bytes piped through `cat`. Imports the built module, so run `npm run build` first.
//
//   node bench/masking.js            # 1 GiB
//   node bench/masking.js 256MiB     # any size: 1048576, 64MiB, 2GiB, ...

import {spawn} from 'node:child_process'
import {closeSync, createWriteStream, openSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {pathToFileURL} from 'node:url'

import {createMaskingTransform} from '../dist/exec/masking.js'

const SECRET_COUNT = 20
// Roughly one secret per this many bytes of output: secrets are rare in real output, and each
// occurrence costs the masker a copy of the read it lands in.
const BYTES_PER_SECRET = 1024 ** 2
const BLOCK_BYTES = 8 * 1024 ** 2
// `secure exec` writes to process.stdout: synchronous writes for files and terminals, a libuv
// stream for pipes. An fs.WriteStream with its default 64 KiB buffer instead makes a thread-pool
// round trip for nearly every read, costing more than the masking under measurement (about 0.9
// against 1.1 GB/s here); with 1 MiB it batches reads into one writev.
const SINK_HIGH_WATER_MARK = 1024 ** 2

/**
 * Generates `bytes` of realistic command output with 20 secrets sprinkled in, then times piping
 * it through `cat | cat` and through `secure`'s masking Transform. Wall times, in seconds. With
 * `print`, also prints the one-line summary.
 */
export async function runMaskingBenchmark({bytes = 1024 ** 3, print = false} = {}) {
  const random = seededRandom(0x5ec2e7)
  const secrets = makeSecrets(random)
  const file = join(tmpdir(), `secure-masking-bench-${process.pid}-${Date.now()}.txt`)
  try {
    writeDataFile(file, bytes, secrets, random)
    const plainSeconds = await time(() => runPlainPipe(file))
    const maskedSeconds = await time(() => runMaskedPipe(file, secrets))
    const result = {
      bytes,
      plainSeconds,
      maskedSeconds,
      maskedBytesPerSecond: bytes / maskedSeconds,
      ratio: maskedSeconds / plainSeconds,
    }
    if (print) console.log(formatResult(result))
    return result
  } finally {
    rmSync(file, {force: true})
  }
}

async function time(run) {
  const start = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - start) / 1e9
}

function runPlainPipe(file) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'cat "$1" | cat > /dev/null', 'sh', file], {stdio: 'inherit'})
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cat | cat exited with ${code}`))))
  })
}

async function runMaskedPipe(file, secrets) {
  const child = spawn('cat', [file], {stdio: ['ignore', 'pipe', 'inherit']})
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited with ${code}`))))
  })
  await pipeline(child.stdout, createMaskingTransform(secrets), createWriteStream('/dev/null', {highWaterMark: SINK_HIGH_WATER_MARK}))
  await exited
}

// Secrets shaped like the ones people keep in 1Password: tokens, keys, generated passwords.
function makeSecrets(random) {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const base64 = alnum + '+/'
  const printable = alnum + '!#$%&*+-.:;=?@^_~'
  const hex = '0123456789abcdef'
  const shapes = [
    () => 'ghp_' + pick(random, alnum, 36),
    () => 'npm_' + pick(random, alnum, 36),
    () => pick(random, base64, 40),
    () => pick(random, printable, 20 + Math.floor(random() * 13)),
    () => pick(random, hex, 64),
    () => 'sk-' + pick(random, alnum, 45),
    () => 'xoxb-' + pick(random, hex, 12) + '-' + pick(random, alnum, 24),
    () => 'pässwörd-' + pick(random, printable, 14),
  ]
  return Array.from({length: SECRET_COUNT}, (_, i) => shapes[i % shapes.length]())
}

function writeDataFile(file, bytes, secrets, random) {
  const pool = Buffer.from(makeLines(random, BLOCK_BYTES + 4096), 'utf8')
  const fd = openSync(file, 'w')
  try {
    let written = 0
    while (written < bytes) {
      const size = Math.min(BLOCK_BYTES, bytes - written)
      // Different offsets into the pool keep blocks from lining up with reads the same way.
      const offset = Math.floor(random() * 4096)
      const block = Buffer.from(pool.subarray(offset, offset + size))
      const occurrences = Math.round((size / BYTES_PER_SECRET) * (0.5 + random()))
      for (let n = 0; n < occurrences; n++) {
        const line = Buffer.from(secretLine(random, secrets[Math.floor(random() * secrets.length)]), 'utf8')
        if (line.length < size) line.copy(block, Math.floor(random() * (size - line.length)))
      }
      writeSync(fd, block)
      written += size
    }
  } finally {
    closeSync(fd)
  }
}

function secretLine(random, secret) {
  const forms = [
    () => `\nexport API_TOKEN=${secret}\n`,
    () => `\nAuthorization: Basic ${Buffer.from(`deploy:${secret}`).toString('base64')}\n`,
    () => `\nGET https://api.example.com/v1/login?user=ci&password=${encodeURIComponent(secret)} 200\n`,
    () => `\n{"level":"debug","msg":"loaded config","token":"${secret}"}\n`,
    () => `\n${Buffer.from(secret + '\n').toString('base64')}\n`,
  ]
  return forms[Math.floor(random() * forms.length)]()
}

// Build logs, HTTP logs, JSON logs, compiler errors, test reports, lockfile hashes and prose.
function makeLines(random, size) {
  const words = ('the quick brown fox jumps over a lazy dog while building packages from source and '
    + 'resolving dependencies for every workspace in the repository before running tests').split(' ')
  const paths = ['src/index.ts', 'src/commands/exec.ts', 'lib/utils/format.js', 'test/unit/parse.test.ts', 'packages/core/src/client.ts']
  const pkgs = ['lodash', 'react', 'typescript', '@types/node', 'vitest', 'esbuild', 'chalk', 'commander', 'zod', 'undici']
  const base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const any = (list) => list[Math.floor(random() * list.length)]
  const num = (n) => Math.floor(random() * n)
  const sentence = (n) => Array.from({length: n}, () => any(words)).join(' ')
  const generators = [
    () => `2025-01-${10 + num(20)}T${10 + num(13)}:${10 + num(50)}:${10 + num(50)}.${100 + num(900)}Z INFO  [worker-${num(8)}] GET /api/v1/users/${num(100000)} 200 ${num(400)}ms`,
    () => `npm http fetch GET 200 https://registry.npmjs.org/${any(pkgs)} ${num(900)}ms (cache ${random() < 0.5 ? 'hit' : 'revalidated'})`,
    () => `{"level":"info","time":${1736858096789 + num(1e6)},"pid":${num(65536)},"msg":"${sentence(5)}","reqId":"req-${num(1e6).toString(36)}","responseTime":${(random() * 100).toFixed(2)}}`,
    () => `${any(paths)}:${1 + num(400)}:${1 + num(80)} - error TS${2000 + num(900)}: Type 'string' is not assignable to type 'number'.`,
    () => `  ✓ ${sentence(4 + num(6))} (${num(50)} ms)`,
    () => `      "integrity": "sha512-${pick(random, base64, 86)}==",`,
    () => `commit ${pick(random, '0123456789abcdef', 40)}`,
    () => sentence(8 + num(12)) + '.',
  ]
  const lines = []
  let length = 0
  while (length < size) {
    const line = any(generators)()
    lines.push(line)
    length += line.length + 1
  }
  return lines.join('\n') + '\n'
}

function pick(random, alphabet, length) {
  let out = ''
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)]
  return out
}

// mulberry32: the data, and so the numbers, are the same from run to run.
function seededRandom(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(|k|ki|kib|m|mi|mib|g|gi|gib)$/i.exec(text.trim())
  if (!match) throw new Error(`not a size: ${text}`)
  const unit = {'': 1, k: 1024, ki: 1024, kib: 1024, m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3}
  return Math.round(Number(match[1]) * unit[match[2].toLowerCase()])
}

function formatBytes(bytes) {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(2)} MiB`
}

function formatResult(result) {
  const rate = (bytesPerSecond) => `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`
  return (
    `masking: ${formatBytes(result.bytes)} with ${SECRET_COUNT} secrets: `
    + `${rate(result.maskedBytesPerSecond)} through secure vs ${rate(result.bytes / result.plainSeconds)} through cat `
    + `(ratio ${result.ratio.toFixed(2)}x; goal >= 1 GB/s and <= 1.1x)`
  )
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const bytes = process.argv[2] ? parseSize(process.argv[2]) : undefined
  await runMaskingBenchmark(bytes === undefined ? {print: true} : {bytes, print: true})
}
