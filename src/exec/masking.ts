/**
 * Masks secret values in a child's output before it reaches the terminal.
 *
 * The masker works on bytes rather than strings: a child may print binary data or split a UTF-8
 * character across two reads, and decoding would either corrupt the first or miss a secret in the
 * second. It never waits on a timer: after each read it emits everything that cannot be the start
 * of a secret and holds back only the shortest tail that still could be.
 */

import {Transform} from 'node:stream'

/** The text every masked occurrence of a secret is replaced with. */
export const MASK_REPLACEMENT = '<concealed by secure>'

// Derived forms of very short secrets (or very short derived forms) would match ordinary output
// all the time and garble it, while hiding almost nothing: below this, only the raw value counts.
const MIN_DERIVED_LENGTH = 6

const MASK = Buffer.from(MASK_REPLACEMENT, 'utf8')
const EMPTY = Buffer.alloc(0)

/**
 * The byte sequences that reveal `secret`, each to be replaced by {@link MASK_REPLACEMENT}: the
 * UTF-8 value itself and, for secrets of at least 6 bytes, the encodings a program is likely to
 * print it in: base64 and base64url (unpadded), the characters of either alphabet that the
 * secret alone determines when it sits at any byte offset inside a longer base64 blob (as in
 * `Authorization: Basic base64("user:" + token)` or `echo token | base64`), and its
 * `encodeURIComponent` form. Derived forms shorter than 6 characters are left out. Deduplicated;
 * empty for the empty string.
 */
export function maskedFormsOf(secret: string): Buffer[] {
  const raw = Buffer.from(secret, 'utf8')
  if (raw.length === 0) return []
  const forms = new Map<string, Buffer>([[raw.toString('latin1'), raw]])
  if (raw.length < MIN_DERIVED_LENGTH) return [...forms.values()]

  const derived: string[] = [raw.toString('base64').replace(/=+$/, '')]
  // Inside a longer blob the base64 alphabet sees the secret at byte offset 0, 1 or 2 modulo 3;
  // the characters on either edge mix in the neighbours' bits, so only the inner ones are stable.
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), raw]).toString('base64')
    derived.push(encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + raw.length)) / 6)))
  }
  for (const form of derived.slice()) derived.push(form.replaceAll('+', '-').replaceAll('/', '_'))
  try {
    derived.push(encodeURIComponent(secret))
  } catch {
    // A lone surrogate has no URI encoding, so no program can print one.
  }

  for (const form of derived) {
    if (form.length >= MIN_DERIVED_LENGTH && !forms.has(form)) forms.set(form, Buffer.from(form, 'latin1'))
  }
  return [...forms.values()]
}

/** Streaming masker over bytes. */
export class SecretMasker {
  private readonly stream: MaskingStream
  // Reused between calls: most reads produce one piece, and the array need not be reallocated.
  private readonly pieces: Buffer[] = []

  constructor(secrets: readonly string[]) {
    this.stream = new MaskingStream(secrets)
  }

  /** Masked bytes that are safe to emit now; may hold back a tail that could begin a secret. */
  push(chunk: Buffer): Buffer {
    if (this.stream.inert) return chunk
    this.stream.write(chunk, this.pieces)
    return this.take()
  }

  /** Whatever is still held back, at the end of the stream. */
  end(): Buffer {
    this.stream.finish(this.pieces)
    return this.take()
  }

  private take(): Buffer {
    const pieces = this.pieces
    const result = pieces.length === 1 ? pieces[0]! : pieces.length === 0 ? EMPTY : Buffer.concat(pieces)
    pieces.length = 0
    return result
  }
}

/** A stream.Transform around SecretMasker for piping a child's stdout/stderr. */
export function createMaskingTransform(secrets: readonly string[]): Transform {
  const masker = new MaskingStream(secrets)
  const pieces: Buffer[] = []
  const pushPieces = (stream: Transform): void => {
    // Pushing pieces one by one spares copying the read they came from; more than two means
    // masks were spliced in, rare enough that one copy beats several trips through the stream.
    if (pieces.length <= 2) for (const piece of pieces) stream.push(piece)
    else stream.push(Buffer.concat(pieces))
    pieces.length = 0
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (masker.inert) return callback(null, chunk)
      masker.write(chunk, pieces)
      pushPieces(this)
      callback()
    },
    flush(callback) {
      masker.finish(pieces)
      pushPieces(this)
      callback()
    },
  })
}

/** Masks a whole string at once (for error messages and logs). */
export function maskString(text: string, secrets: readonly string[]): string {
  const masker = new SecretMasker(secrets)
  const input = Buffer.from(text, 'utf8')
  const masked = Buffer.concat([masker.push(input), masker.end()])
  // Unchanged bytes give back the caller's string itself, lone surrogates and all.
  return masked.equals(input) ? text : masked.toString('utf8')
}

// Below this many candidate positions, splitting the search into lanes costs more than it saves.
const MIN_LANE_SPAN = 1024

/**
 * The masking state machine behind {@link SecretMasker} and {@link createMaskingTransform}. It
 * appends its output to a caller's array in pieces, so that emitting held-back bytes in front of
 * a read does not force a copy of the whole read.
 */
class MaskingStream {
  /** True when there is nothing to mask: every read passes through untouched. */
  readonly inert: boolean

  // A byte trie of every masked form. Node 0 is the root; `edges` maps node * 256 + byte to the
  // child node. It answers the two questions a candidate position raises: which form is the
  // longest complete match here, and could a longer one still complete with more input.
  private readonly edges = new Map<number, number>()
  private readonly complete: Uint8Array
  private readonly extensible: Uint8Array
  // Which bytes, and which pairs of bytes, some form starts with: a quick no for most positions.
  private readonly startsForm = new Uint8Array(256)
  private readonly startsForm2 = new Uint8Array(65536)

  private readonly maxLength: number

  // Wu-Manber over the first `window` bytes of every long form, `window` being the shortest long
  // form's length (0 if there is none): `shift[block]` is how far the window may slide when its
  // last two bytes are `block`, 0 meaning that some form's window ends with them. `filter`, keyed
  // by the window's first and last two bytes, rejects most of those before the trie is walked.
  private readonly window: number
  private readonly shift: Uint8Array
  private readonly filter: Uint8Array

  // Forms shorter than MIN_DERIVED_LENGTH (raw values of short secrets) would shrink the window
  // and with it every skip, so they are looked up on their own with Buffer.indexOf. `shortNext`
  // remembers, per form, where it next occurs in the buffer being scanned (-1: nowhere, -2:
  // not looked up yet), so that a scan with many matches does not search the same bytes again.
  private readonly shortForms: Buffer[] = []
  private readonly shortNext: Int32Array

  private held: Buffer = EMPTY
  // Results of walk(), kept in fields so that the search allocates nothing.
  private open = false
  private matchLength = 0

  constructor(secrets: readonly string[]) {
    const forms = new Map<string, Buffer>()
    for (const secret of secrets) {
      for (const form of maskedFormsOf(secret)) forms.set(form.toString('latin1'), form)
    }
    this.inert = forms.size === 0

    let nodes = 1
    const complete: number[] = [0]
    const extensible: number[] = [0]
    let maxLength = 0
    for (const form of forms.values()) {
      maxLength = Math.max(maxLength, form.length)
      this.startsForm[form[0]!] = 1
      if (form.length >= 2) this.startsForm2[(form[0]! << 8) | form[1]!] = 1
      let node = 0
      for (const byte of form) {
        const key = node * 256 + byte
        let child = this.edges.get(key)
        if (child === undefined) {
          child = nodes++
          this.edges.set(key, child)
          complete.push(0)
          extensible.push(0)
        }
        extensible[node] = 1
        node = child
      }
      complete[node] = 1
    }
    this.complete = Uint8Array.from(complete)
    this.extensible = Uint8Array.from(extensible)
    this.maxLength = maxLength

    const longForms: Buffer[] = []
    for (const form of forms.values()) (form.length < MIN_DERIVED_LENGTH ? this.shortForms : longForms).push(form)
    this.shortNext = new Int32Array(this.shortForms.length)

    // Capped so that every shift fits in a byte.
    const m = Math.min(Math.min(...longForms.map((form) => form.length)), 255)
    this.window = longForms.length === 0 ? 0 : m
    this.shift = new Uint8Array(longForms.length === 0 ? 0 : 65536)
    this.filter = new Uint8Array(longForms.length === 0 ? 0 : 65536)
    this.shift.fill(m - 1)
    for (const form of longForms) {
      for (let end = 1; end < m; end++) {
        const block = (form[end - 1]! << 8) | form[end]!
        this.shift[block] = Math.min(this.shift[block]!, m - 1 - end)
      }
      this.filter[filterIndex((form[0]! << 8) | form[1]!, (form[m - 2]! << 8) | form[m - 1]!)] = 1
    }
  }

  /** Appends to `out` what of `chunk` (after anything held) is safe to emit now. */
  write(chunk: Buffer, out: Buffer[]): void {
    const held = this.held
    if (held.length === 0) return this.scan(chunk, 0, false, out)
    this.held = EMPTY
    if (chunk.length < this.maxLength) return this.scan(Buffer.concat([held, chunk]), 0, false, out)

    // Rather than copy the read behind the held bytes, settle every match that starts in the held
    // bytes on a short joint of both; none of them can reach further than that, and none can be
    // left waiting for more input, because the read is at least as long as any form.
    const joint = Buffer.concat([held, chunk.subarray(0, this.maxLength - 1)])
    this.shortNext.fill(-2)
    let pos = 0
    for (;;) {
      const match = this.search(joint, pos, joint.length)
      if (match === -1 || match >= held.length) break
      emit(joint, pos, match, out)
      out.push(MASK)
      pos = match + this.matchLength
    }
    emit(joint, pos, held.length, out)
    this.scan(chunk, Math.max(pos, held.length) - held.length, false, out)
  }

  /** Appends to `out` whatever was held back, masked, and forgets it. */
  finish(out: Buffer[]): void {
    const held = this.held
    this.held = EMPTY
    // The held tail can still contain a complete form that was waiting to see whether a longer
    // one starting at the same place would complete; with no more input, it cannot.
    if (held.length !== 0) this.scan(held, 0, true, out)
  }

  private scan(data: Buffer, start: number, final: boolean, out: Buffer[]): void {
    const end = data.length
    // Only a form starting this close to the end could be completed by the next read.
    const tailStart = final ? end : Math.max(0, end - this.maxLength + 1)
    this.shortNext.fill(-2)
    let pos = start
    for (;;) {
      const match = this.search(data, pos, end)
      const matchLength = this.matchLength
      const matchOpen = this.open
      if (match === -1 || match >= tailStart) {
        if (!final) {
          // Leftmost wins, so a form that could still complete before the match outranks it,
          // and so does a longer form that could still complete at the match itself.
          let hold = this.firstOpen(data, Math.max(pos, tailStart), match === -1 ? end : match, end)
          if (hold === -1 && match !== -1 && matchOpen) hold = match
          if (hold !== -1) {
            emit(data, pos, hold, out)
            // A copy: the caller may reuse its buffer once push() returns.
            this.held = Buffer.from(data.subarray(hold))
            return
          }
        }
        if (match === -1) return emit(data, pos, end, out)
      }
      emit(data, pos, match, out)
      out.push(MASK)
      pos = match + matchLength
    }
  }

  /** Leftmost start at or after `from` of a complete form, its length left in matchLength, or -1. */
  private search(data: Buffer, from: number, end: number): number {
    const shortAt = this.shortForms.length === 0 ? -1 : this.nextShort(data, from)
    if (this.window !== 0) {
      // Long forms only matter if they start before the next short one.
      const last = shortAt === -1 ? end - this.window : Math.min(end - this.window, shortAt - 1)
      const longAt = this.searchLong(data, from, last, end)
      if (longAt !== -1) return longAt
    }
    // The walk finds the longest form there, which may well be a long one.
    return shortAt === -1 ? -1 : this.rewalk(data, shortAt, end)
  }

  /** Leftmost start of a short form at or after `from`, or -1. */
  private nextShort(data: Buffer, from: number): number {
    const next = this.shortNext
    let first = -1
    for (let k = 0; k < next.length; k++) {
      let at = next[k]!
      if (at !== -1 && at < from) {
        at = data.indexOf(this.shortForms[k]!, from)
        next[k] = at
      }
      if (at !== -1 && (first === -1 || at < first)) first = at
    }
    return first
  }

  /**
   * Leftmost start in [from, last] of a complete form found through the long forms' Wu-Manber
   * table, its length left in matchLength, or -1. Each step waits on the load of the step
   * before, so the positions are split into four lanes searched in lockstep, letting the
   * processor overlap their loads.
   */
  private searchLong(data: Uint8Array, from: number, last: number, end: number): number {
    const m = this.window
    if (last - from < MIN_LANE_SPAN) return this.searchLane(data, from + m - 1, last + m, end)

    const quarter = ((last - from + 1) / 4) | 0
    const limit0 = from + quarter + m - 1
    const limit1 = limit0 + quarter
    const limit2 = limit1 + quarter
    const limit3 = last + m
    const shift = this.shift
    let i0 = from + m - 1
    let i1 = limit0
    let i2 = limit1
    let i3 = limit2
    // A lane that finds a match stops there; so do the lanes after it, which can only find later ones.
    let found1 = -1
    let found2 = -1
    let found3 = -1
    // No step moves a lane by more than m - 1, so this many steps keep every lane short of its
    // limit: one loop counter instead of four bounds checks per step.
    const maxShift = m - 1
    lanes: for (;;) {
      let steps = (Math.min(limit0 - i0, limit1 - i1, limit2 - i2, limit3 - i3) / maxShift) | 0
      if (steps === 0) break
      do {
        let s0 = shift[(data[i0 - 1]! << 8) | data[i0]!]!
        let s1 = shift[(data[i1 - 1]! << 8) | data[i1]!]!
        let s2 = shift[(data[i2 - 1]! << 8) | data[i2]!]!
        let s3 = shift[(data[i3 - 1]! << 8) | data[i3]!]!
        if (s0 === 0) {
          if (this.matchEndingAt(data, i0, end)) return i0 - m + 1
          s0 = 1
        }
        if (s1 === 0) {
          if (this.matchEndingAt(data, i1, end)) {
            found1 = i1 - m + 1
            break lanes
          }
          s1 = 1
        }
        if (s2 === 0) {
          if (this.matchEndingAt(data, i2, end)) {
            found2 = i2 - m + 1
            break lanes
          }
          s2 = 1
        }
        if (s3 === 0) {
          if (this.matchEndingAt(data, i3, end)) {
            found3 = i3 - m + 1
            break lanes
          }
          s3 = 1
        }
        i0 += s0
        i1 += s1
        i2 += s2
        i3 += s3
      } while (--steps !== 0)
    }
    // Finish the lanes one after another, leftmost first; a match a lane already found is
    // walked again because later lanes' walks have overwritten matchLength and open.
    let match = this.searchLane(data, i0, limit0, end)
    if (match !== -1) return match
    if (found1 !== -1) return this.rewalk(data, found1, end)
    match = this.searchLane(data, i1, limit1, end)
    if (match !== -1) return match
    if (found2 !== -1) return this.rewalk(data, found2, end)
    match = this.searchLane(data, i2, limit2, end)
    if (match !== -1) return match
    if (found3 !== -1) return this.rewalk(data, found3, end)
    return this.searchLane(data, i3, limit3, end)
  }

  private rewalk(data: Uint8Array, start: number, end: number): number {
    this.walk(data, start, end)
    return start
  }

  /** Wu-Manber over windows ending at [i, limit): the first start with a complete form, or -1. */
  private searchLane(data: Uint8Array, i: number, limit: number, end: number): number {
    const shift = this.shift
    while (i < limit) {
      const skip = shift[(data[i - 1]! << 8) | data[i]!]!
      if (skip !== 0) {
        i += skip
      } else {
        if (this.matchEndingAt(data, i, end)) return i - this.window + 1
        i++
      }
    }
    return -1
  }

  /** Whether a complete form starts where the window ending at `i` starts. */
  private matchEndingAt(data: Uint8Array, i: number, end: number): boolean {
    const start = i - this.window + 1
    const key = filterIndex((data[start]! << 8) | data[start + 1]!, (data[i - 1]! << 8) | data[i]!)
    return this.filter[key] === 1 && this.walk(data, start, end) !== 0
  }

  /** Leftmost position in [from, to) where a form begins that more input could complete, or -1. */
  private firstOpen(data: Uint8Array, from: number, to: number, end: number): number {
    const pairs = Math.min(to, end - 1)
    for (let i = from; i < pairs; i++) {
      if (this.startsForm2[(data[i]! << 8) | data[i + 1]!] === 1) {
        this.walk(data, i, end)
        if (this.open) return i
      }
    }
    // The last byte alone; no form of one byte is open, so it must start a longer one.
    if (to === end && from < end && this.startsForm[data[end - 1]!] === 1) {
      this.walk(data, end - 1, end)
      if (this.open) return end - 1
    }
    return -1
  }

  /**
   * Length of the longest form starting at `start` (0 if none), also left in matchLength; sets
   * `open` when the input ran out while a longer form was still possible.
   */
  private walk(data: Uint8Array, start: number, end: number): number {
    let node = 0
    let longest = 0
    let i = start
    while (i < end) {
      const child = this.edges.get(node * 256 + data[i]!)
      if (child === undefined) break
      node = child
      i++
      if (this.complete[node] === 1) longest = i - start
    }
    this.open = i === end && this.extensible[node] === 1
    this.matchLength = longest
    return longest
  }
}

function filterIndex(first: number, last: number): number {
  return (Math.imul(first, 0x9e3779b1) ^ last) & 0xffff
}

function emit(data: Buffer, from: number, to: number, out: Buffer[]): void {
  if (from < to) out.push(from === 0 && to === data.length ? data : data.subarray(from, to))
}
