import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import fc from 'fast-check'
import lockfile from 'proper-lockfile'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {BugError, EnvironmentError} from '../../src/errors.js'
import {
  GENESIS_HASH,
  appendAuditRecord,
  describeCommand,
  hashAuditRecord,
  readAuditLog,
  verifyAuditLog,
  type AuditContext,
  type AuditRecord,
} from '../../src/audit/index.js'

const run = promisify(execFile)
const AUDIT_MODULE = fileURLToPath(new URL('../../src/audit/audit-log.ts', import.meta.url))

let root: string
let logPath: string
let headPath: string

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'secure-audit-'))
  // Two levels that do not exist yet, like a first run's `<state>/secure/`.
  logPath = path.join(root, 'state', 'secure', 'audit.jsonl')
  headPath = path.join(root, 'state', 'secure', 'audit.head')
})

afterEach(async () => {
  await rm(root, {recursive: true, force: true})
})

/** A context whose clock ticks one second per record, from a fixed start. */
function context(overrides: Partial<AuditContext> = {}): AuditContext {
  let tick = 0
  return {
    logPath,
    now: () => new Date(Date.UTC(2025, 0, 2, 3, 4, 5) + 1000 * tick++),
    user: 'alice',
    host: 'laptop',
    ...overrides,
  }
}

async function appendMany(count: number, audit = context()): Promise<AuditRecord[]> {
  const records: AuditRecord[] = []
  for (let index = 1; index <= count; index++) {
    records.push(await appendAuditRecord(audit, {event: 'exec.start', cwd: '/work/project', details: {index, references: ['op://vault/item/token']}}))
  }
  return records
}

async function logLines(): Promise<string[]> {
  return (await readFile(logPath, 'utf8')).split('\n').filter((line) => line !== '')
}

async function writeLines(lines: readonly string[]): Promise<void> {
  await writeFile(logPath, lines.map((line) => `${line}\n`).join(''))
}

/** SHA-256 of JSON with keys sorted at every level, written independently of the module. */
function independentHash(record: Record<string, unknown>): string {
  const sortKeys = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sortKeys)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]))
        : value
  const {hash: _hash, ...body} = record
  return createHash('sha256').update(JSON.stringify(sortKeys(body))).digest('hex')
}

describe('appending and reading', () => {
  it('treats a missing log as empty and valid', async () => {
    expect(await readAuditLog(logPath)).toEqual([])
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 0, problems: []})
  })

  it('writes records that chain from the genesis hash and verify', async () => {
    const written = await appendMany(3)
    const read = await readAuditLog(logPath)

    expect(read).toEqual(written)
    expect(read.map((record) => record.seq)).toEqual([1, 2, 3])
    expect(read[0]).toMatchObject({
      time: '2025-01-02T03:04:05.000Z',
      user: 'alice',
      host: 'laptop',
      event: 'exec.start',
      cwd: '/work/project',
      details: {index: 1, references: ['op://vault/item/token']},
      previous: GENESIS_HASH,
    })
    expect(read[1]!.time).toBe('2025-01-02T03:04:06.000Z')
    for (const [index, record] of read.entries()) {
      expect(record.hash).toBe(independentHash(record as unknown as Record<string, unknown>))
      if (index > 0) expect(record.previous).toBe(read[index - 1]!.hash)
    }
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 3, problems: []})
    expect(JSON.parse(await readFile(headPath, 'utf8'))).toEqual({seq: 3, hash: read[2]!.hash})
  })

  it('writes one record per line even when a value holds a newline', async () => {
    await appendAuditRecord(context(), {event: 'exec.start', cwd: '/tmp/a\nb', details: {note: 'x\ny', skipped: undefined}})
    const lines = await logLines()
    expect(lines).toHaveLength(1)
    const [record] = await readAuditLog(logPath)
    expect(record!.cwd).toBe('/tmp/a\nb')
    expect(record!.details).toEqual({note: 'x\ny'})
    expect((await verifyAuditLog(logPath)).ok).toBe(true)
  })

  it('stores and verifies any JSON details, whatever their keys and values', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue(), {maxKeys: 5}), async (details) => {
        const audit = context({logPath: path.join(root, `property-${run++}`, 'audit.jsonl')})
        await appendAuditRecord(audit, {event: 'profile.allow', cwd: '/', details})
        await appendAuditRecord(audit, {event: 'exec.end', cwd: '/', details})
        const records = await readAuditLog(audit.logPath)
        expect(records.map((record) => JSON.stringify(record.details))).toEqual([JSON.stringify(details), JSON.stringify(details)])
        expect(await verifyAuditLog(audit.logPath)).toEqual({ok: true, records: 2, problems: []})
      }),
      {numRuns: 30},
    )
  })

  it('creates the directories 0700 and the log and head 0600', async () => {
    await appendMany(1)
    expect((await stat(path.join(root, 'state'))).mode & 0o777).toBe(0o700)
    expect((await stat(path.dirname(logPath))).mode & 0o777).toBe(0o700)
    expect((await stat(logPath)).mode & 0o777).toBe(0o600)
    expect((await stat(headPath)).mode & 0o777).toBe(0o600)
  })

  it('tightens a log that others can read to 0600', async () => {
    await appendMany(1)
    await chmod(logPath, 0o644)
    await appendMany(1)
    expect((await stat(logPath)).mode & 0o777).toBe(0o600)
  })
})

describe('verification', () => {
  /** Five records, then `tamper` applied to the log's lines. */
  async function tampered(tamper: (lines: string[]) => string[]): Promise<Awaited<ReturnType<typeof verifyAuditLog>>> {
    await appendMany(5)
    await writeLines(tamper(await logLines()))
    return verifyAuditLog(logPath)
  }

  it('detects an edited field and names the record, once', async () => {
    const result = await tampered((lines) => lines.map((line, index) => (index === 2 ? line.replace('"cwd":"/work/project"', '"cwd":"/elsewhere"') : line)))
    expect(result.ok).toBe(false)
    expect(result.records).toBe(5)
    expect(result.problems).toEqual([
      {line: 3, seq: 3, kind: 'edited', message: 'record 3 (line 3) was edited: its hash does not match its contents'},
    ])
  })

  it('detects an edited seq without blaming the records around it', async () => {
    const result = await tampered((lines) => lines.map((line, index) => (index === 1 ? line.replace('"seq":2', '"seq":9') : line)))
    expect(result.problems).toEqual([
      {line: 2, seq: 9, kind: 'edited', message: 'record 9 (line 2) was edited: its hash does not match its contents'},
    ])
  })

  it('detects a record rewritten with a fresh hash, at the record after it', async () => {
    const result = await tampered((lines) =>
      lines.map((line, index) => {
        if (index !== 2) return line
        const record = JSON.parse(line) as AuditRecord
        record.details = {index: 3, references: ['op://vault/other/token']}
        return JSON.stringify({...record, hash: hashAuditRecord(record)})
      }),
    )
    expect(result.problems).toHaveLength(1)
    expect(result.problems[0]).toMatchObject({line: 4, seq: 4, kind: 'removed'})
    expect(result.problems[0]!.message).toBe(
      'record 4 (line 4) does not link to record 3: a record between them was removed or record 3 was rewritten',
    )
  })

  it('detects a removed middle record and names it', async () => {
    const result = await tampered((lines) => lines.filter((_, index) => index !== 2))
    expect(result.records).toBe(4)
    expect(result.problems).toEqual([
      {line: 3, seq: 3, kind: 'removed', message: 'record 3 is missing before record 4 (line 3): removed from the log'},
    ])
  })

  it('detects several removed records as one gap', async () => {
    const result = await tampered((lines) => [lines[0]!, lines[4]!])
    expect(result.problems).toEqual([
      {line: 2, seq: 2, kind: 'removed', message: 'records 2 to 4 are missing before record 5 (line 2): removed from the log'},
    ])
  })

  it('detects two swapped records as one reordering', async () => {
    const result = await tampered(([one, two, three, four, five]) => [one!, two!, four!, three!, five!])
    expect(result.problems).toHaveLength(1)
    const [problem] = result.problems
    expect(problem!.kind).toBe('reordered')
    expect(problem!.message).toMatch(/^record (3 \(line 4\)|4 \(line 3\)) is out of order/)
  })

  it('detects the last record moved to the top as one reordering', async () => {
    const result = await tampered((lines) => [lines[4]!, ...lines.slice(0, 4)])
    expect(result.problems).toEqual([
      {line: 1, seq: 5, kind: 'reordered', message: 'record 5 (line 1) is out of order: it belongs after record 4 (line 5)'},
    ])
  })

  it('detects a duplicated record', async () => {
    const result = await tampered((lines) => [...lines.slice(0, 4), lines[1]!, lines[4]!])
    expect(result.problems).toEqual([
      {line: 5, seq: 2, kind: 'reordered', message: 'record 2 (line 5) repeats record 2 on line 2'},
    ])
  })

  it('detects a removed last record through the head', async () => {
    const result = await tampered((lines) => lines.slice(0, 4))
    expect(result.problems).toEqual([
      {
        line: 4,
        seq: 5,
        kind: 'truncated',
        message: 'the log ends at record 4 (line 4), but 5 records were written: the last record was removed',
      },
    ])
  })

  it('detects a deleted log through the head', async () => {
    await appendMany(2)
    await rm(logPath)
    const result = await verifyAuditLog(logPath)
    expect(result.ok).toBe(false)
    expect(result.problems).toEqual([
      {line: 0, seq: 1, kind: 'truncated', message: 'the log has no records, but 2 were written: it was emptied or deleted'},
    ])
  })

  it('detects a replaced last record through the head', async () => {
    const result = await tampered((lines) => {
      const record = JSON.parse(lines[4]!) as AuditRecord
      record.event = 'exec.end'
      return [...lines.slice(0, 4), JSON.stringify({...record, hash: hashAuditRecord(record)})]
    })
    expect(result.problems).toEqual([
      {line: 5, seq: 5, kind: 'truncated', message: 'record 5 (line 5) is not the record that was written there: the end of the log was replaced'},
    ])
  })

  it('reports an inserted garbage line without breaking the chain', async () => {
    const result = await tampered((lines) => [...lines.slice(0, 2), 'this is not json', ...lines.slice(2)])
    expect(result.records).toBe(5)
    expect(result.problems).toEqual([{line: 3, kind: 'malformed', message: 'line 3 is not an audit record: it is not valid JSON'}])
  })

  it('reports a record replaced by garbage once, as malformed', async () => {
    const result = await tampered((lines) => lines.map((line, index) => (index === 1 ? '{"seq": "two"}' : line)))
    expect(result.problems).toEqual([{line: 2, kind: 'malformed', message: 'line 2 is not an audit record: its seq is not a positive integer'}])
  })

  it('reports every problem, not just the first', async () => {
    const result = await tampered((lines) => [
      lines[0]!,
      '',
      lines[1]!.replace('"user":"alice"', '"user":"mallory"'),
      lines[2]!,
      lines[4]!,
    ])
    expect(result.problems.map((problem) => [problem.kind, problem.line, problem.seq])).toEqual([
      ['malformed', 2, undefined],
      ['edited', 3, 2],
      ['removed', 5, 4],
    ])
  })

  it('keeps a removed end visible after later appends', async () => {
    await appendMany(5)
    await writeLines((await logLines()).slice(0, 4))
    await appendMany(1)
    const result = await verifyAuditLog(logPath)
    expect(result.problems).toEqual([
      {line: 5, seq: 5, kind: 'removed', message: 'record 5 is missing before record 6 (line 5): removed from the log'},
    ])
  })

  it('does not depend on the order of keys', async () => {
    await appendMany(3)
    const reverseKeys = (value: unknown): unknown =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).reverse().map(([key, inner]) => [key, reverseKeys(inner)]))
        : value
    const lines = await logLines()
    const reordered = lines.map((line) => JSON.stringify(reverseKeys(JSON.parse(line))))
    expect(reordered[0]!.startsWith('{"hash"')).toBe(true)
    await writeLines(reordered)
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 3, problems: []})
  })
})

describe('the head file', () => {
  it('is recovered from the last line when deleted', async () => {
    const before = await appendMany(3)
    await rm(headPath)
    const [next] = await appendMany(1)
    expect(next).toMatchObject({seq: 4, previous: before[2]!.hash})
    expect(JSON.parse(await readFile(headPath, 'utf8'))).toEqual({seq: 4, hash: next!.hash})
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 4, problems: []})
  })

  it('catches up when a writer died between the log and the head', async () => {
    await appendMany(2)
    const staleHead = await readFile(headPath, 'utf8')
    await appendMany(1)
    await writeFile(headPath, staleHead)
    expect((await verifyAuditLog(logPath)).ok).toBe(true)
    const [next] = await appendMany(1)
    expect(next!.seq).toBe(4)
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 4, problems: []})
  })

  it('puts a record after a torn last line on a line of its own', async () => {
    await appendMany(2)
    await writeFile(logPath, '{"seq":3,"ti', {flag: 'a'})
    const [next] = await appendMany(1)
    expect(next!.seq).toBe(3)
    const result = await verifyAuditLog(logPath)
    expect(result.records).toBe(3)
    expect(result.problems).toEqual([{line: 3, kind: 'malformed', message: 'line 3 is not an audit record: it is not valid JSON'}])
  })

  it('is reported when it is not valid', async () => {
    await appendMany(1)
    await writeFile(headPath, 'garbage')
    const result = await verifyAuditLog(logPath)
    expect(result.problems).toEqual([{line: 0, kind: 'malformed', message: `the head file ${headPath} is not a valid {seq, hash} record`}])
  })
})

describe('concurrent appends', () => {
  it('lose no record among 50 parallel appends in one process', async () => {
    const audit = context()
    const written = await Promise.all(
      Array.from({length: 50}, (_, index) => appendAuditRecord(audit, {event: 'exec.start', cwd: '/', details: {writer: 'main', index}})),
    )
    expect(written.map((record) => record.seq).sort((a, b) => a - b)).toEqual(Array.from({length: 50}, (_, index) => index + 1))
    const records = await readAuditLog(logPath)
    expect(records.map((record) => record.seq)).toEqual(Array.from({length: 50}, (_, index) => index + 1))
    expect(new Set(records.map((record) => record.details.index)).size).toBe(50)
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 50, problems: []})
  })

  it('lose no record when 3 processes and this one append at once', async () => {
    // Node strips the types itself; the hook maps the source's `.js` imports to the `.ts` files.
    const script = `
      import {registerHooks} from 'node:module'
      import {pathToFileURL} from 'node:url'
      registerHooks({
        resolve(specifier, context, next) {
          try {
            return next(specifier, context)
          } catch (error) {
            if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context)
            throw error
          }
        },
      })
      const {appendAuditRecord} = await import(pathToFileURL(process.env.AUDIT_MODULE).href)
      const audit = {logPath: process.env.AUDIT_LOG, now: () => new Date(), user: 'bob', host: 'ci'}
      await Promise.all(Array.from({length: 15}, (_, index) =>
        appendAuditRecord(audit, {event: 'exec.start', cwd: '/', details: {writer: process.env.WRITER, index}})))
    `
    const children = ['a', 'b', 'c'].map((writer) =>
      run(process.execPath, ['--input-type=module', '-e', script], {env: {...process.env, AUDIT_MODULE, AUDIT_LOG: logPath, WRITER: writer}}),
    )
    const audit = context()
    const own = Array.from({length: 15}, (_, index) => appendAuditRecord(audit, {event: 'exec.start', cwd: '/', details: {writer: 'main', index}}))
    await Promise.all([...children, ...own])

    const records = await readAuditLog(logPath)
    expect(records.map((record) => record.seq)).toEqual(Array.from({length: 60}, (_, index) => index + 1))
    const writers = new Set(records.map((record) => `${String(record.details.writer)}:${String(record.details.index)}`))
    expect(writers.size).toBe(60)
    expect(await verifyAuditLog(logPath)).toEqual({ok: true, records: 60, problems: []})
  })
})

describe('failures', () => {
  it('reports an unwritable state directory as an environment problem', async () => {
    const blocker = path.join(root, 'not-a-directory')
    await writeFile(blocker, '')
    const inside = path.join(blocker, 'secure', 'audit.jsonl')
    const error = await appendAuditRecord(context({logPath: inside}), {event: 'exec.start', cwd: '/', details: {}}).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(EnvironmentError)
    expect(error).toMatchObject({code: 'AUDIT_UNWRITABLE', hint: `check permissions of ${path.dirname(inside)}`})
    expect((error as Error).message).toBe(`cannot write the audit log ${inside}: ENOTDIR`)
  })

  it('gives up waiting for a lock held by another process', async () => {
    await mkdir(path.dirname(logPath), {recursive: true})
    const release = await lockfile.lock(logPath, {realpath: false})
    try {
      const started = Date.now()
      const error = await appendAuditRecord(context({lockWaitMs: 300}), {event: 'exec.start', cwd: '/', details: {}}).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(EnvironmentError)
      expect(error).toMatchObject({code: 'AUDIT_LOCKED'})
      expect((error as EnvironmentError).hint).toContain(`${logPath}.lock`)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    } finally {
      await release()
    }
    expect(await readAuditLog(logPath)).toEqual([])
  })

  it('refuses details that JSON cannot hold, before writing anything', async () => {
    const error = await appendAuditRecord(context(), {event: 'exec.start', cwd: '/', details: {size: 1n}}).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(BugError)
    expect(error).toMatchObject({code: 'AUDIT_DETAILS_NOT_JSON'})
    await expect(stat(logPath)).rejects.toMatchObject({code: 'ENOENT'})
  })
})

describe('describeCommand', () => {
  it('keeps the program and hashes the arguments', () => {
    const described = describeCommand(['npm', 'publish', '--otp', '123456'])
    expect(described).toEqual({
      program: 'npm',
      argumentsHash: createHash('sha256').update('["publish","--otp","123456"]').digest('hex'),
    })
    expect(JSON.stringify(described)).not.toContain('123456')
  })

  it('tells different arguments apart', () => {
    expect(describeCommand(['npm', 'a b']).argumentsHash).not.toBe(describeCommand(['npm', 'a', 'b']).argumentsHash)
    expect(describeCommand(['npm']).argumentsHash).toBe(createHash('sha256').update('[]').digest('hex'))
  })

  it('refuses an empty command', () => {
    expect(() => describeCommand([])).toThrow(BugError)
  })
})
