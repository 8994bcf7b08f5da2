/**
 * The audit log: an append-only JSON-lines file in which each record carries the hash of the one
 * before it, so an edit, a removal, a reordering or a cut-off end is detected by
 * {@link verifyAuditLog}. It records which references a command used, never their values.
 *
 * A small head file beside the log (`audit.head`, `{seq, hash}` of the last record) lets an append
 * continue the chain without reading the whole log, and lets verification notice a truncated end,
 * which a hash chain alone cannot. The chain is unkeyed: it detects tampering by anyone who does not
 * also rewrite every later record and the head, which is the evidence a maintainer needs after the
 * fact, not a defence against an attacker who owns the account.
 */
import {createHash, randomBytes} from 'node:crypto'
import {mkdir, open, readFile, rename, rm, writeFile} from 'node:fs/promises'
import type {FileHandle} from 'node:fs/promises'
import path from 'node:path'
import lockfile from 'proper-lockfile'
import {BugError, EnvironmentError} from '../errors.js'

/** The `previous` hash of the first record: there is nothing before it. */
export const GENESIS_HASH = '0'.repeat(64)

/** Who writes records, where, and when: injected so tests control the clock and the identity. */
export interface AuditContext {
  /** The log file, normally `<XDG state>/secure/audit.jsonl`. Its directory is created if missing. */
  logPath: string
  /** The clock stamped on each record. */
  now: () => Date
  /** The local user name. */
  user: string
  /** The host name. */
  host: string
  /**
   * How long to wait for another `secure` process's lock on the log, in milliseconds (default 10 s).
   * A lock left behind by a killed process goes stale after 5 s, so the default outlasts it.
   */
  lockWaitMs?: number
}

/** What the caller says happened; the log adds the sequence number, time, identity and hashes. */
export interface AuditEntry {
  /** Dotted event name, for example `exec.start`, `exec.end`, `profile.allow`. */
  event: string
  /** The working directory the event happened in. */
  cwd: string
  /**
   * Event-specific facts, stored as JSON (values JSON cannot hold, such as `undefined`, are dropped).
   * References and names only: never a secret value.
   */
  details: Record<string, unknown>
}

/** One line of the log. */
export interface AuditRecord {
  /** 1 for the first record, then 2, 3, … with no gaps. */
  seq: number
  /** ISO 8601 time from the injected clock. */
  time: string
  user: string
  host: string
  event: string
  cwd: string
  details: Record<string, unknown>
  /** {@link AuditRecord.hash} of the record before, or {@link GENESIS_HASH} for the first. */
  previous: string
  /** SHA-256 (hex) of the canonical JSON of every other field: see {@link hashAuditRecord}. */
  hash: string
}

/** What kind of damage verification found. */
export type AuditProblemKind = 'malformed' | 'edited' | 'removed' | 'reordered' | 'truncated'

/** One thing wrong with the log, in words a user can act on. */
export interface AuditProblem {
  /** 1-based line of the log the problem shows at; 0 when it is about the head file itself. */
  line: number
  /** The record concerned; for `removed` and `truncated`, the first record that is missing. */
  seq?: number
  kind: AuditProblemKind
  /** One line, for example `record 4 (line 4) was edited: its hash does not match its contents`. */
  message: string
}

/** The result of {@link verifyAuditLog}. */
export interface AuditVerification {
  /** True when no problem was found. */
  ok: boolean
  /** How many lines are well-formed records (whether or not they verify). */
  records: number
  /** Every problem found, in line order; empty when `ok`. */
  problems: AuditProblem[]
}

/** The last record the log is known to end with. */
interface Head {
  seq: number
  hash: string
}

/** A lock older than this is considered abandoned by a killed process and broken. */
const LOCK_STALE_MS = 5000
const DEFAULT_LOCK_WAIT_MS = 10_000
const HASH_PATTERN = /^[0-9a-f]{64}$/
const STRING_FIELDS = ['time', 'user', 'host', 'event', 'cwd'] as const

/**
 * Appends one record and returns it. Safe to call from many processes at once: the log is locked
 * while its head is read and the record written, so sequence numbers never repeat or skip.
 *
 * @throws EnvironmentError `AUDIT_UNWRITABLE` when the log or its directory cannot be written,
 *   `AUDIT_LOCKED` when another process holds the lock for longer than `lockWaitMs`.
 * @throws BugError `AUDIT_DETAILS_NOT_JSON` when `details` cannot be stored as a JSON object.
 */
export async function appendAuditRecord(context: AuditContext, entry: AuditEntry): Promise<AuditRecord> {
  // Checked before any I/O, so a bad call never leaves a half-written record or a held lock.
  const details = toJsonObject(entry.details)
  const {logPath} = context
  await attempt(logPath, () => mkdir(path.dirname(logPath), {recursive: true, mode: 0o700}))

  let compromised: Error | undefined
  const release = await acquireLock(logPath, context.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, (error) => {
    // proper-lockfile's default throws from a timer, which would crash the process; report it instead.
    compromised = error
  })
  let record: AuditRecord
  try {
    record = await appendLocked(context, entry, details)
  } finally {
    // A lock that cannot be removed goes stale and is broken by the next writer: not worth failing for.
    await release().catch(() => undefined)
  }
  if (compromised !== undefined) {
    throw new EnvironmentError(`lost the lock on the audit log ${logPath} while writing record ${record.seq}`, {
      code: 'AUDIT_LOCK_LOST',
      hint: 'another process may have written at the same time; verify the audit log',
      cause: compromised,
    })
  }
  return record
}

/**
 * Every well-formed record of the log, in file order; a missing log is an empty one. Lines that are
 * not records are skipped: {@link verifyAuditLog} is what reports them.
 *
 * @throws EnvironmentError `AUDIT_UNREADABLE` when the log exists but cannot be read.
 */
export async function readAuditLog(logPath: string): Promise<AuditRecord[]> {
  const text = await readLogText(logPath)
  return parseLog(text).flatMap((entry) => (entry.record === undefined ? [] : [entry.record]))
}

/**
 * Reads the whole log and checks every record's hash, the chain of `previous` hashes, the order
 * and continuity of sequence numbers, and the end of the log against the head file. Reports every
 * problem; an edited record is one problem, because the chain is followed through its stored hash.
 *
 * Without the head file (deleted, or the log predates it) a removed end cannot be detected.
 *
 * @throws EnvironmentError `AUDIT_UNREADABLE` when the log or head exists but cannot be read.
 */
export async function verifyAuditLog(logPath: string): Promise<AuditVerification> {
  const headPath = auditHeadPath(logPath)
  // The head is read before the log: a writer appends to the log before it moves the head, so a log
  // read second is never shorter than the head says, unless it really was cut.
  const headText = await readOptional(headPath, 'AUDIT_UNREADABLE')
  const text = await readLogText(logPath)
  const entries = parseLog(text)
  const problems: AuditProblem[] = []

  const malformedLines: number[] = []
  const records: Checked[] = []
  for (const entry of entries) {
    if (entry.record === undefined) {
      malformedLines.push(entry.line)
      problems.push({line: entry.line, kind: 'malformed', message: `line ${entry.line} is not an audit record: ${entry.problem}`})
      continue
    }
    let edited: boolean
    try {
      edited = hashAuditRecord(entry.record) !== entry.record.hash
    } catch {
      // Nesting deep enough to exhaust the stack cannot be hashed; `secure` never writes such a record.
      malformedLines.push(entry.line)
      problems.push({line: entry.line, kind: 'malformed', message: `line ${entry.line} is not an audit record: it is nested too deeply`})
      continue
    }
    if (edited) {
      problems.push({
        line: entry.line,
        seq: entry.record.seq,
        kind: 'edited',
        message: `${describe(entry.record.seq, entry.line)} was edited: its hash does not match its contents`,
      })
    }
    records.push({line: entry.line, record: entry.record, edited, seq: entry.record.seq})
  }
  assignEditedSequence(records)

  // Order: the longest run of records whose seq increases is taken as in place; every other record
  // was moved or copied. For two swapped lines that blames one record, not everything after it.
  const inOrder = longestIncreasingRun(records)
  const bySeq = new Map<number, Checked>()
  for (const record of inOrder) bySeq.set(record.seq, record)
  const inPlace = new Set(inOrder)
  for (const record of records) {
    if (inPlace.has(record)) continue
    // A seq seen before (in place, or earlier in the file) makes this a copy; otherwise it was moved.
    const twin = bySeq.get(record.seq)
    if (twin === undefined) bySeq.set(record.seq, record)
    problems.push({line: record.line, seq: record.seq, kind: 'reordered', message: outOfOrderMessage(record, twin, inOrder)})
  }

  // Continuity: walk the present sequence numbers in order, checking gaps and `previous` links.
  const seqs = [...bySeq.keys()].sort((a, b) => a - b)
  let before: Checked | undefined
  for (const seq of seqs) {
    const current = bySeq.get(seq)!
    const beforeSeq = before?.seq ?? 0
    if (seq > beforeSeq + 1) {
      const missing = seq - beforeSeq - 1
      // A garbled line usually is the missing record: it was already reported as malformed.
      const low = Math.min(before?.line ?? 0, current.line)
      const high = Math.max(before?.line ?? 0, current.line)
      const garbled = malformedLines.filter((line) => line > low && line < high).length
      if (garbled < missing) {
        const which = missing === 1 ? `record ${beforeSeq + 1} is` : `records ${beforeSeq + 1} to ${seq - 1} are`
        problems.push({
          line: current.line,
          seq: beforeSeq + 1,
          kind: 'removed',
          message: `${which} missing before ${describe(seq, current.line)}: removed from the log`,
        })
      }
    } else if (!current.edited) {
      // An edited record's own `previous` is untrusted and already reported; its successor still
      // links to its stored hash, so one edit stays one problem.
      const expected = before?.record.hash ?? GENESIS_HASH
      if (current.record.previous !== expected) {
        problems.push({
          line: current.line,
          seq,
          kind: 'removed',
          message:
            before === undefined
              ? `${describe(seq, current.line)} does not start the chain: records before it were removed or it was rewritten`
              : `${describe(seq, current.line)} does not link to record ${before.seq}: a record between them was removed or record ${before.seq} was rewritten`,
        })
      }
    }
    before = current
  }

  const headProblem = checkHead(headPath, headText, bySeq, before, entries.length)
  if (headProblem !== undefined) problems.push(headProblem)
  problems.sort((a, b) => a.line - b.line)
  return {ok: problems.length === 0, records: records.length, problems}
}

/**
 * Identifies a command for the log without its arguments, which may hold a secret a user typed.
 * `argumentsHash` (SHA-256 hex of `JSON.stringify(argv.slice(1))`) shows whether two runs had the
 * same arguments; being unsalted, it does not hide arguments short enough to guess.
 *
 * @throws BugError `AUDIT_EMPTY_COMMAND` when `argv` is empty.
 */
export function describeCommand(argv: readonly string[]): {program: string; argumentsHash: string} {
  const [program] = argv
  if (program === undefined) {
    throw new BugError('cannot describe an empty command for the audit log', {code: 'AUDIT_EMPTY_COMMAND'})
  }
  return {program, argumentsHash: sha256(JSON.stringify(argv.slice(1)))}
}

/**
 * The hash a record must carry: SHA-256 (hex) of the canonical JSON of every field but `hash`,
 * keys sorted recursively, so the result does not depend on the order keys were written in.
 */
export function hashAuditRecord(record: Omit<AuditRecord, 'hash'> & {hash?: string}): string {
  const {hash: _ignored, ...body} = record
  return sha256(canonicalJson(body))
}

/** Where the head file of `logPath` lives: `audit.jsonl` → `audit.head`, beside it. */
export function auditHeadPath(logPath: string): string {
  return logPath.endsWith('.jsonl') ? `${logPath.slice(0, -'.jsonl'.length)}.head` : `${logPath}.head`
}

// ----------------------------------------------------------------------------------------------
// Appending

async function appendLocked(context: AuditContext, entry: AuditEntry, details: Record<string, unknown>): Promise<AuditRecord> {
  const {logPath} = context
  const headPath = auditHeadPath(logPath)
  const record = await attempt(logPath, async () => {
    // O_APPEND: even if the lock were broken, each line lands whole at the end, never over another.
    const handle = await open(logPath, 'a+', 0o600)
    try {
      // The log says which secrets each command used: nobody else should read it, even if it
      // was created by hand or restored from a backup with looser permissions.
      if (((await handle.stat()).mode & 0o077) !== 0) await handle.chmod(0o600)
      const tail = await readLastLine(handle)
      const last = await chooseHead(logPath, parseHead(await readOptional(headPath, 'AUDIT_UNWRITABLE')), tail.line)
      const body: Omit<AuditRecord, 'hash'> = {
        seq: last.seq + 1,
        time: context.now().toISOString(),
        user: context.user,
        host: context.host,
        event: entry.event,
        cwd: entry.cwd,
        details,
        previous: last.hash,
      }
      const record: AuditRecord = {...body, hash: hashAuditRecord(body)}
      // A line cut short by a crash gets its own line, rather than swallowing this record.
      await handle.appendFile(`${tail.endsWithNewline ? '' : '\n'}${JSON.stringify(record)}\n`)
      // On disk before the head moves: a head ahead of the log would read as a truncated log.
      await handle.datasync()
      return record
    } finally {
      await handle.close()
    }
  })
  await attempt(logPath, () => writeHead(headPath, {seq: record.seq, hash: record.hash}))
  return record
}

/**
 * What the next record follows. The head is trusted over the log when the log ends earlier or
 * differently, so a cut or rewritten end stays visible as a gap rather than being papered over; the
 * log is trusted when it is ahead of the head (a crash between the two writes) or the head is lost.
 */
async function chooseHead(logPath: string, head: Head | undefined, lastLine: string | undefined): Promise<Head> {
  const parsed = lastLine === undefined ? undefined : parseRecord(lastLine)
  const lastRecord = typeof parsed === 'object' ? parsed : undefined
  if (head !== undefined) return lastRecord !== undefined && lastRecord.seq > head.seq ? lastRecord : head
  if (lastLine === undefined) return {seq: 0, hash: GENESIS_HASH}
  if (lastRecord !== undefined) return lastRecord
  // Rare: no head and a damaged last line. Continue from the last record that survives.
  const records = await readAuditLog(logPath)
  return records.at(-1) ?? {seq: 0, hash: GENESIS_HASH}
}

/** The log's last line (without its newline), reading backwards from the end rather than the whole log. */
async function readLastLine(handle: FileHandle): Promise<{line: string | undefined; endsWithNewline: boolean}> {
  const {size} = await handle.stat()
  if (size === 0) return {line: undefined, endsWithNewline: true}
  for (let chunk = 4096; ; chunk *= 4) {
    const length = Math.min(chunk, size)
    const buffer = Buffer.alloc(length)
    let filled = 0
    while (filled < length) {
      const {bytesRead} = await handle.read(buffer, filled, length - filled, size - length + filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    const endsWithNewline = buffer[length - 1] === 0x0a
    const end = endsWithNewline ? length - 1 : length
    // 0x0a never occurs inside a multi-byte UTF-8 character, so cutting at it is safe.
    const start = end === 0 ? 0 : buffer.lastIndexOf(0x0a, end - 1) + 1
    if (start > 0 || length === size) return {line: buffer.subarray(start, end).toString('utf8'), endsWithNewline}
  }
}

/** Replaces the head atomically: a reader sees the old head or the new one, never half of either. */
async function writeHead(headPath: string, head: Head): Promise<void> {
  const temporary = `${headPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temporary, `${JSON.stringify(head)}\n`, {mode: 0o600})
    await rename(temporary, headPath)
  } catch (error) {
    await rm(temporary, {force: true}).catch(() => undefined)
    throw error
  }
}

/** Waits for the log's lock (`<log>.lock`, a directory) with jittered back-off, up to `waitMs`. */
async function acquireLock(logPath: string, waitMs: number, onCompromised: (error: Error) => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs
  // proper-lockfile's own retries also retry EACCES and the like; only "held by another" is worth waiting for.
  for (let delay = 2; ; delay = Math.min(delay * 1.5, 50)) {
    try {
      // realpath: false, because the log may not exist yet; the lock is a sibling directory.
      return await lockfile.lock(logPath, {realpath: false, stale: LOCK_STALE_MS, onCompromised})
    } catch (error) {
      if (errorCode(error) !== 'ELOCKED') throw unwritable(logPath, error)
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new EnvironmentError(`timed out waiting for the lock on the audit log ${logPath}`, {
          code: 'AUDIT_LOCKED',
          hint: `another secure process is writing to it; if none is running, remove ${logPath}.lock`,
          cause: error,
        })
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay * (0.5 + Math.random()))))
    }
  }
}

/** Round-trips `details` through JSON, so the hash covers exactly what a reader will parse back. */
function toJsonObject(details: Record<string, unknown>): Record<string, unknown> {
  let copy: unknown
  try {
    copy = JSON.parse(JSON.stringify(details))
  } catch (error) {
    throw new BugError('audit record details cannot be stored as JSON', {code: 'AUDIT_DETAILS_NOT_JSON', cause: error})
  }
  if (!isObject(copy)) {
    throw new BugError('audit record details must be a JSON object', {code: 'AUDIT_DETAILS_NOT_JSON'})
  }
  return copy
}

// ----------------------------------------------------------------------------------------------
// Reading and verifying

interface LogLine {
  line: number
  record?: AuditRecord
  /** Why the line is not a record, when it is not. */
  problem?: string
}

interface Checked {
  line: number
  record: AuditRecord
  edited: boolean
  /** The stored seq, or for an edited record whose seq no longer fits, the one its position implies. */
  seq: number
}

function parseLog(text: string): LogLine[] {
  const lines = text.split('\n')
  // The newline that ends the last record leaves one empty piece; any other empty line is damage.
  if (lines.at(-1) === '') lines.pop()
  return lines.map((content, index) => {
    const parsed = parseRecord(content)
    return typeof parsed === 'string' ? {line: index + 1, problem: parsed} : {line: index + 1, record: parsed}
  })
}

/** The record on `line`, or why it is not one. Fields beyond the known ones are kept (and hashed). */
function parseRecord(line: string): AuditRecord | string {
  if (line.trim() === '') return 'it is empty'
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return 'it is not valid JSON'
  }
  if (!isObject(value)) return 'it is not a JSON object'
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1) return 'its seq is not a positive integer'
  for (const field of STRING_FIELDS) {
    if (typeof value[field] !== 'string') return `its ${field} is not a string`
  }
  if (!isObject(value.details)) return 'its details are not a JSON object'
  for (const field of ['previous', 'hash'] as const) {
    if (typeof value[field] !== 'string' || !HASH_PATTERN.test(value[field])) return `its ${field} is not a SHA-256 hex hash`
  }
  return value as unknown as AuditRecord
}

/**
 * An edited seq would otherwise read as a gap plus a reordering: when an edited record's seq fits
 * neither neighbour, it is taken to be the one its position implies.
 */
function assignEditedSequence(records: Checked[]): void {
  for (const [index, record] of records.entries()) {
    if (!record.edited) continue
    const beforeSeq = records[index - 1]?.seq ?? 0
    const afterSeq = records[index + 1]?.record.seq
    if (record.seq !== beforeSeq + 1 && record.seq !== (afterSeq ?? Number.NaN) - 1) record.seq = beforeSeq + 1
  }
}

/** The longest subsequence (in line order) with strictly increasing seq: O(n log n) patience sort. */
function longestIncreasingRun(records: readonly Checked[]): Checked[] {
  const tails: number[] = [] // tails[k]: index of the smallest last record of a run of length k + 1
  const previous: number[] = new Array<number>(records.length).fill(-1)
  for (const [index, record] of records.entries()) {
    let low = 0
    let high = tails.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (records[tails[middle]!]!.seq < record.seq) low = middle + 1
      else high = middle
    }
    if (low > 0) previous[index] = tails[low - 1]!
    tails[low] = index
  }
  const run: Checked[] = []
  for (let index = tails.at(-1) ?? -1; index !== -1; index = previous[index]!) run.push(records[index]!)
  return run.reverse()
}

function outOfOrderMessage(record: Checked, twin: Checked | undefined, inOrder: readonly Checked[]): string {
  const subject = describe(record.seq, record.line)
  if (twin !== undefined) return `${subject} repeats record ${twin.seq} on line ${twin.line}`
  const next = inOrder.find((other) => other.seq > record.seq)
  if (next !== undefined) return `${subject} is out of order: it belongs before ${describe(next.seq, next.line)}`
  const last = inOrder.at(-1)
  return last === undefined ? `${subject} is out of order` : `${subject} is out of order: it belongs after ${describe(last.seq, last.line)}`
}

/** Compares the end of the log with the head file, which is what reveals a removed end. */
function checkHead(
  headPath: string,
  headText: string | undefined,
  bySeq: ReadonlyMap<number, Checked>,
  last: Checked | undefined,
  lineCount: number,
): AuditProblem | undefined {
  if (headText === undefined) return undefined
  const head = parseHead(headText)
  if (head === undefined) {
    return {line: 0, kind: 'malformed', message: `the head file ${headPath} is not a valid {seq, hash} record`}
  }
  const lastSeq = last?.seq ?? 0
  if (head.seq > lastSeq) {
    const lost = head.seq - lastSeq
    return {
      line: lineCount,
      seq: lastSeq + 1,
      kind: 'truncated',
      message:
        last === undefined
          ? `the log has no records, but ${head.seq} were written: it was emptied or deleted`
          : `the log ends at ${describe(last.seq, last.line)}, but ${head.seq} records were written: ` +
            `${lost === 1 ? 'the last record was' : `the last ${lost} records were`} removed`,
    }
  }
  // Records past the head were appended by a writer that crashed before moving the head: not damage.
  const atHead = bySeq.get(head.seq)
  if (atHead !== undefined && atHead.record.hash !== head.hash) {
    return {
      line: atHead.line,
      seq: head.seq,
      kind: 'truncated',
      message: `${describe(head.seq, atHead.line)} is not the record that was written there: the end of the log was replaced`,
    }
  }
  return undefined
}

function parseHead(text: string | undefined): Head | undefined {
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(text)
    if (isObject(value) && Number.isSafeInteger(value.seq) && (value.seq as number) >= 0 && typeof value.hash === 'string' && HASH_PATTERN.test(value.hash)) {
      return {seq: value.seq as number, hash: value.hash}
    }
  } catch {
    // Reported by the caller as an invalid head.
  }
  return undefined
}

async function readLogText(logPath: string): Promise<string> {
  return (await readOptional(logPath, 'AUDIT_UNREADABLE')) ?? ''
}

/** A file's text, or undefined when it does not exist. */
async function readOptional(file: string, code: 'AUDIT_UNREADABLE' | 'AUDIT_UNWRITABLE'): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    if (code === 'AUDIT_UNWRITABLE') throw unwritable(file, error)
    throw new EnvironmentError(`cannot read the audit log ${file}: ${reason(error)}`, {
      code: 'AUDIT_UNREADABLE',
      hint: `check permissions of ${path.dirname(file)}`,
      cause: error,
    })
  }
}

// ----------------------------------------------------------------------------------------------
// Helpers

/** Runs a file-system step, turning its failure into an error the user can act on. */
async function attempt<T>(logPath: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    throw error instanceof EnvironmentError || error instanceof BugError ? error : unwritable(logPath, error)
  }
}

function unwritable(logPath: string, error: unknown): EnvironmentError {
  return new EnvironmentError(`cannot write the audit log ${logPath}: ${reason(error)}`, {
    code: 'AUDIT_UNWRITABLE',
    hint: `check permissions of ${path.dirname(logPath)}`,
    cause: error,
  })
}

function describe(seq: number, line: number): string {
  return `record ${seq} (line ${line})`
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`
  if (isObject(value)) {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort()
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function errorCode(error: unknown): string | undefined {
  return isObject(error) && typeof error.code === 'string' ? error.code : undefined
}

function reason(error: unknown): string {
  return errorCode(error) ?? (error instanceof Error ? error.message : String(error))
}
