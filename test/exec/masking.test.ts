import {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {
  MASK_REPLACEMENT,
  SecretMasker,
  createMaskingTransform,
  maskString,
  maskedFormsOf,
} from '../../src/exec/masking.js'

const MASK = Buffer.from(MASK_REPLACEMENT)
const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64')

/** Feeds `chunks` to a fresh masker and returns everything it emitted, end included. */
function maskChunks(secrets: readonly string[], chunks: readonly Buffer[]): Buffer {
  const masker = new SecretMasker(secrets)
  return Buffer.concat([...chunks.map((chunk) => masker.push(chunk)), masker.end()])
}

/**
 * An independent, deliberately naive reference: at each position take the longest form that
 * starts there, else move on one byte.
 */
function referenceMask(secrets: readonly string[], data: Buffer): Buffer {
  const forms = secrets.flatMap((secret) => maskedFormsOf(secret))
  const out: Buffer[] = []
  let literal = 0
  let pos = 0
  while (pos < data.length) {
    let longest = 0
    for (const form of forms) {
      const fits = form.length > longest && pos + form.length <= data.length
      if (fits && data[pos] === form[0] && form.compare(data, pos, pos + form.length) === 0) longest = form.length
    }
    if (longest === 0) {
      pos++
      continue
    }
    out.push(data.subarray(literal, pos), MASK)
    pos += longest
    literal = pos
  }
  out.push(data.subarray(literal))
  return Buffer.concat(out)
}

/** Splits `data` at the given offsets (in any order, repeats giving empty chunks). */
function splitAt(data: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = offsets.map((offset) => offset % (data.length + 1)).sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const cut of cuts) {
    chunks.push(data.subarray(from, cut))
    from = cut
  }
  chunks.push(data.subarray(from))
  return chunks
}

/** The stretches of `output` between masks; none may still contain a form of a secret. */
function unmaskedStretches(output: Buffer): Buffer[] {
  const stretches: Buffer[] = []
  let from = 0
  for (let at = output.indexOf(MASK); at !== -1; at = output.indexOf(MASK, from)) {
    stretches.push(output.subarray(from, at))
    from = at + MASK.length
  }
  stretches.push(output.subarray(from))
  return stretches
}

function expectNoFormLeft(output: Buffer, secrets: readonly string[]): void {
  // Checked per stretch rather than on the whole output: a secret that happens to be a piece of
  // MASK_REPLACEMENT itself (say "secure") shows up in the replacement text, which is no leak.
  for (const stretch of unmaskedStretches(output)) {
    for (const secret of secrets) {
      for (const form of maskedFormsOf(secret)) expect(stretch.includes(form)).toBe(false)
    }
  }
}

// Secrets that are ASCII, multibyte, full-range Unicode, or drawn from a tiny alphabet so that
// secrets overlap, repeat and are prefixes of one another.
const secretArbitrary = fc.oneof(
  fc.string({minLength: 1, maxLength: 24}),
  fc.string({unit: 'grapheme', minLength: 1, maxLength: 10}),
  fc.string({unit: 'binary', minLength: 1, maxLength: 10}),
  fc.string({unit: fc.constantFrom('a', 'b', 'é', '€'), minLength: 1, maxLength: 8}),
)

// Output made of noise, raw secrets and the encodings a program would print them in.
function outputArbitrary(secrets: readonly string[]): fc.Arbitrary<Buffer> {
  const piece = fc.oneof(
    fc.string({unit: 'grapheme', maxLength: 20}).map((text) => Buffer.from(text)),
    fc.uint8Array({maxLength: 12}).map((bytes) => Buffer.from(bytes)),
    fc.string({unit: fc.constantFrom('a', 'b', 'é', '€', '=', 'Y', 'W'), maxLength: 8}).map((text) => Buffer.from(text)),
    fc.tuple(fc.constantFrom(...secrets), fc.constantFrom('', 'u', 'u:', 'u:x')).chain(([secret, prefix]) =>
      fc.constantFrom(
        Buffer.from(secret),
        Buffer.from(b64(prefix + secret)),
        Buffer.from(b64(prefix + secret + '\n')),
        Buffer.from(Buffer.from(prefix + secret).toString('base64url')),
        Buffer.from(encodeURIComponent(secret)),
        Buffer.from(secret).subarray(0, Math.max(1, Buffer.byteLength(secret) - 1)),
      ),
    ),
  )
  return fc.array(piece, {maxLength: 30}).map((pieces) => Buffer.concat(pieces))
}

describe('maskedFormsOf', () => {
  it('gives nothing for the empty secret and only the raw value for short ones', () => {
    expect(maskedFormsOf('')).toEqual([])
    expect(maskedFormsOf('abc12')).toEqual([Buffer.from('abc12')])
    expect(maskedFormsOf('é€')).toEqual([Buffer.from('é€')])
  })

  it('includes the raw value, unpadded base64, base64url and the URI form', () => {
    const secret = 'p@ss w?rd>>>~'
    const forms = maskedFormsOf(secret).map((form) => form.toString())
    const base64 = b64(secret)
    expect(base64).toMatch(/[+/]/)
    expect(base64.endsWith('=')).toBe(true)
    expect(forms).toContain(secret)
    expect(forms).toContain(base64.replace(/=+$/, ''))
    expect(forms).toContain(base64.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_'))
    expect(forms).toContain('p%40ss%20w%3Frd%3E%3E%3E~')
  })

  it('never repeats a form and never derives one shorter than 6 characters', () => {
    fc.assert(
      fc.property(secretArbitrary, (secret) => {
        const forms = maskedFormsOf(secret).map((form) => form.toString('latin1'))
        expect(new Set(forms).size).toBe(forms.length)
        expect(forms[0]).toBe(Buffer.from(secret).toString('latin1'))
        for (const form of forms.slice(1)) expect(form.length).toBeGreaterThanOrEqual(6)
      }),
    )
  })
})

describe('maskString', () => {
  const secret = 'hunter2-Correct-Horse'

  it('replaces the raw value', () => {
    expect(maskString(`token=${secret}; next=${secret}!`, [secret])).toBe(
      `token=${MASK_REPLACEMENT}; next=${MASK_REPLACEMENT}!`,
    )
  })

  it('replaces base64 and base64url, padding left alone', () => {
    const awkward = 'ab>>>?cd~~~'
    const base64 = b64(awkward)
    const base64url = Buffer.from(awkward).toString('base64url')
    expect(base64).toBe('YWI+Pj4/Y2R+fn4=')
    expect(maskString(`value: ${base64}\n`, [awkward])).toBe(`value: ${MASK_REPLACEMENT}=\n`)
    expect(maskString(`value: ${base64url}\n`, [awkward])).toBe(`value: ${MASK_REPLACEMENT}\n`)
  })

  it('replaces the URL-encoded form', () => {
    const password = 'p@ss word/+1'
    expect(maskString(`GET /login?user=ci&password=${encodeURIComponent(password)}&x=1`, [password])).toBe(
      `GET /login?user=ci&password=${MASK_REPLACEMENT}&x=1`,
    )
  })

  it('replaces a secret at each byte offset of a longer base64 blob', () => {
    // Secret lengths 21, 22 and 23 put its end at every offset too.
    for (const value of [secret, secret + 'x', secret + 'xy']) {
      for (const prefix of ['', 'u', 'u:', 'usr', 'user:', 'deploy:']) {
        for (const suffix of ['', '\n', '@host']) {
          const encoded = b64(prefix + value + suffix)
          // Only the characters that mix the secret's bits with its neighbours' survive.
          const firstOwn = Math.ceil((8 * prefix.length) / 6)
          // ...except when the secret is aligned on a group and its own base64's last character
          // shows up whole: at the end of the blob, or when the next bits happen to be zeros.
          const own = b64(value).replace(/=+$/, '')
          const whole = prefix.length % 3 === 0 && encoded.startsWith(own, firstOwn)
          const pastOwn = whole ? firstOwn + own.length : Math.floor((8 * (prefix.length + value.length)) / 6)
          expect(maskString(`Basic ${encoded}`, [value]), encoded).toBe(
            `Basic ${encoded.slice(0, firstOwn)}${MASK_REPLACEMENT}${encoded.slice(pastOwn)}`,
          )
        }
      }
    }
  })

  it('masks the base64 of "u:" + secret exactly around the secret', () => {
    const encoded = b64('u:' + secret) // the secret at byte offset 2
    expect(encoded).toBe('dTpodW50ZXIyLUNvcnJlY3QtSG9yc2U=')
    expect(maskString(encoded, [secret])).toBe(`dTp${MASK_REPLACEMENT}U=`)
    expect(maskString(b64('u' + secret), [secret])).toBe(`dW${MASK_REPLACEMENT}Q==`)
  })

  it('masks a multibyte secret and leaves the rest of the text as it was', () => {
    expect(maskString('clé: pässwörd€€ ✓ fin', ['pässwörd€€'])).toBe(`clé: ${MASK_REPLACEMENT} ✓ fin`)
    // Base64 works on the UTF-8 bytes: 18 of them here, so all but the first 3 characters go.
    expect(maskString(b64('u:pässwörd€€'), ['pässwörd€€'])).toBe(`dTp${MASK_REPLACEMENT}`)
  })

  it('returns the very string it was given when nothing matches, lone surrogates included', () => {
    const text = 'nothing \ud800 here'
    expect(maskString(text, [secret])).toBe(text)
    expect(maskString(text, [])).toBe(text)
  })

  it('does not derive encodings from short secrets', () => {
    // base64("abc") is "YWJj", which would hit unrelated output.
    expect(maskString('abc YWJj abc', ['abc'])).toBe(`${MASK_REPLACEMENT} YWJj ${MASK_REPLACEMENT}`)
  })
})

describe('overlapping matches', () => {
  it('prefers the longest form at the same position', () => {
    expect(maskString('xxabcdefghyy', ['abcdef', 'abcdefgh'])).toBe(`xx${MASK_REPLACEMENT}yy`)
    expect(maskString('xxabcdefghyy', ['abcdefgh', 'abcdef'])).toBe(`xx${MASK_REPLACEMENT}yy`)
  })

  it('prefers the leftmost match and resumes after it', () => {
    expect(maskString('abcdefghi', ['defghi', 'abcdef'])).toBe(`${MASK_REPLACEMENT}ghi`)
    expect(maskString('abcdefabcdef', ['abcdef'])).toBe(`${MASK_REPLACEMENT}${MASK_REPLACEMENT}`)
    expect(maskString('aaaa', ['aa'])).toBe(`${MASK_REPLACEMENT}${MASK_REPLACEMENT}`)
  })

  it('waits for more input before settling on the shorter of two forms', () => {
    const masker = new SecretMasker(['abcdef', 'abcdefgh'])
    expect(masker.push(Buffer.from('xxabcdef')).toString()).toBe('xx')
    expect(masker.push(Buffer.from('gh!')).toString()).toBe(`${MASK_REPLACEMENT}!`)

    const other = new SecretMasker(['abcdef', 'abcdefgh'])
    expect(other.push(Buffer.from('xxabcdef')).toString()).toBe('xx')
    expect(other.end().toString()).toBe(MASK_REPLACEMENT)
  })
})

describe('SecretMasker', () => {
  const secret = 'hunter2hunter2'

  it('returns the very chunk it was given when there are no secrets', () => {
    for (const secrets of [[], [''], ['', '']]) {
      const masker = new SecretMasker(secrets)
      const chunk = Buffer.from(`${secret} and more`)
      expect(masker.push(chunk)).toBe(chunk)
      expect(masker.end().length).toBe(0)
    }
  })

  it('returns the very chunk it was given when nothing in it could start a secret', () => {
    const masker = new SecretMasker([secret])
    const chunk = Buffer.from('no match here, and no possible start at the end.\n')
    expect(masker.push(chunk)).toBe(chunk)
  })

  it('emits a prompt at once when it is not the start of a secret', () => {
    const masker = new SecretMasker([secret])
    expect(masker.push(Buffer.from('Password: ')).toString()).toBe('Password: ')
  })

  it('holds back only the tail that could start a secret, and masks it once complete', () => {
    const masker = new SecretMasker([secret])
    expect(masker.push(Buffer.from('token: hunt')).toString()).toBe('token: ')
    expect(masker.push(Buffer.from('er2hun')).toString()).toBe('')
    expect(masker.push(Buffer.from('ter2\n')).toString()).toBe(`${MASK_REPLACEMENT}\n`)
  })

  it('releases a held tail as soon as it stops looking like a secret', () => {
    const masker = new SecretMasker([secret])
    expect(masker.push(Buffer.from('hunt')).toString()).toBe('')
    expect(masker.push(Buffer.from('ing season\n')).toString()).toBe('hunting season\n')
  })

  it('holds from the leftmost position that could still start a secret', () => {
    // "hunter2hun" could start the secret at offset 0, and so could its later "hun".
    const masker = new SecretMasker([secret])
    expect(masker.push(Buffer.from('> hunter2hun')).toString()).toBe('> ')
    expect(masker.push(Buffer.from('x')).toString()).toBe('hunter2hunx')
  })

  it('gives back a held tail at the end of the stream', () => {
    const masker = new SecretMasker([secret])
    expect(masker.push(Buffer.from('last words: hunter2')).toString()).toBe('last words: ')
    expect(masker.end().toString()).toBe('hunter2')
  })

  it('masks a secret split inside a multibyte character', () => {
    const multibyte = 'pässwörd-€uro'
    const bytes = Buffer.from(`[${multibyte}]`)
    const euro = bytes.indexOf(Buffer.from('€'))
    const output = maskChunks([multibyte], [bytes.subarray(0, euro + 1), bytes.subarray(euro + 1, euro + 2), bytes.subarray(euro + 2)])
    expect(output.toString()).toBe(`[${MASK_REPLACEMENT}]`)
  })

  it('passes invalid UTF-8 and binary through byte for byte', () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xe2, 0x82, 0x80, 0x68, 0x75, 0x6e, 0xf0, 0x9f])
    const output = maskChunks([secret, 'pässwörd'], [binary.subarray(0, 4), binary.subarray(4)])
    expect(output.equals(binary)).toBe(true)
  })

  it('does not keep a reference to the caller’s buffer', () => {
    const masker = new SecretMasker([secret])
    const chunk = Buffer.from('x hunter2')
    expect(masker.push(chunk).toString()).toBe('x ')
    chunk.fill('z')
    expect(masker.push(Buffer.from('hunter2')).toString()).toBe(MASK_REPLACEMENT)
  })

  it('masks whatever way the output is split into reads', () => {
    fc.assert(
      fc.property(
        fc.array(secretArbitrary, {minLength: 1, maxLength: 5}).chain((secrets) =>
          fc.tuple(fc.constant(secrets), outputArbitrary(secrets), fc.array(fc.nat(), {maxLength: 12})),
        ),
        ([secrets, data, offsets]) => {
          const expected = referenceMask(secrets, data)
          expect(maskChunks(secrets, [data]).equals(expected)).toBe(true)
          const chunked = maskChunks(secrets, splitAt(data, offsets))
          expect(chunked.equals(expected)).toBe(true)
          expectNoFormLeft(chunked, secrets)
        },
      ),
      {numRuns: 500},
    )
  })

  it('masks one byte at a time as it does all at once', () => {
    fc.assert(
      fc.property(
        fc.array(secretArbitrary, {minLength: 1, maxLength: 4}).chain((secrets) => fc.tuple(fc.constant(secrets), outputArbitrary(secrets))),
        ([secrets, data]) => {
          const bytes = [...data].map((byte) => Buffer.from([byte]))
          expect(maskChunks(secrets, bytes).equals(maskChunks(secrets, [data]))).toBe(true)
        },
      ),
      {numRuns: 200},
    )
  })

  it('masks long output with secrets scattered anywhere, in reads of any size', () => {
    // Long enough for the search to run in parallel lanes and for reads to outgrow the forms.
    const longSecret = fc.oneof(
      fc.string({unit: 'grapheme-ascii', minLength: 6, maxLength: 40}),
      fc.string({unit: 'grapheme', minLength: 3, maxLength: 12}),
      fc.string({unit: fc.constantFrom('a', 'b', 'é'), minLength: 2, maxLength: 8}),
    )
    fc.assert(
      fc.property(
        fc.array(longSecret, {minLength: 1, maxLength: 20}),
        fc.string({unit: 'grapheme-ascii', minLength: 1, maxLength: 64}),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('raw', 'basic', 'url')), {maxLength: 40}),
        fc.array(fc.nat(), {maxLength: 8}),
        (secrets, filler, insertions, offsets) => {
          const body = Buffer.from(filler.repeat(Math.ceil(6000 / filler.length)))
          for (const [where, which, how] of insertions) {
            const secret = secrets[which % secrets.length]!
            const form =
              how === 'raw' ? secret : how === 'basic' ? b64('user:' + secret) : encodeURIComponent(secret.replaceAll(/[\ud800-\udfff]/g, ''))
            Buffer.from(form).copy(body, where % body.length)
          }
          const expected = referenceMask(secrets, body)
          expect(maskChunks(secrets, [body]).equals(expected)).toBe(true)
          expect(maskChunks(secrets, splitAt(body, offsets)).equals(expected)).toBe(true)
        },
      ),
      {numRuns: 150},
    )
  })

  it('masks every encoding of a secret split at any byte between two long reads', () => {
    const secret = 'pässwörd-€uro'
    const filler = 'lorem ipsum dolor sit amet\n'.repeat(20)
    for (const form of [secret, b64(secret).replace(/=+$/, ''), encodeURIComponent(secret)]) {
      const data = Buffer.from(filler + form + filler)
      for (let cut = filler.length; cut <= filler.length + Buffer.byteLength(form); cut++) {
        const output = maskChunks([secret], [data.subarray(0, cut), data.subarray(cut)]).toString()
        expect(output, `${form} cut at ${cut - filler.length}`).toBe(filler + MASK_REPLACEMENT + filler)
      }
    }
  })

  it('finds a secret at every offset of a long read full of near misses', () => {
    const secret = 'npm_ITQF8tNtR1lWympqzefiQb6CPFTqlA6GHcCi'
    const masker = new SecretMasker([secret])
    // Lines that start like the secret's base64 (longer than the secret) make the search stop
    // and look everywhere.
    const filler = Buffer.from(`lorem ipsum ${b64(secret).slice(0, 45)}# dolor sit amet\n`.repeat(60))
    for (let at = 0; at + secret.length <= filler.length; at++) {
      const data = Buffer.from(filler)
      data.write(secret, at)
      const output = Buffer.concat([masker.push(data), masker.end()])
      if (!output.equals(referenceMask([secret], data)) || output.indexOf(MASK) === -1) {
        expect.fail(`secret at offset ${at} of ${filler.length} was not masked exactly`)
      }
    }
  })

  it('passes output without secrets through byte for byte, binary included', () => {
    fc.assert(
      fc.property(
        fc.array(secretArbitrary, {maxLength: 5}),
        fc.oneof(fc.uint8Array({maxLength: 3000}).map((bytes) => Buffer.from(bytes)), fc.string({unit: 'binary', maxLength: 500}).map((text) => Buffer.from(text))),
        fc.array(fc.nat(), {maxLength: 8}),
        (secrets, data, offsets) => {
          fc.pre(!secrets.some((secret) => maskedFormsOf(secret).some((form) => data.includes(form))))
          expect(maskChunks(secrets, splitAt(data, offsets)).equals(data)).toBe(true)
        },
      ),
      {numRuns: 300},
    )
  })

  it('never leaves a secret in the output of a long random stream', () => {
    const secrets = ['ghp_IQQcms7Jzd7XLJE2VG3spEVft4vnwKXqluvG', 'dT/fj9A+3s8x+QdGvkP840oEO00LsbI6K7imJOrW', 'pässwörd-bIB=9yxIA*']
    fc.assert(
      fc.property(outputArbitrary(secrets), fc.array(fc.nat(), {maxLength: 20}), (data, offsets) => {
        const output = maskChunks(secrets, splitAt(data, offsets))
        for (const secret of secrets) expect(output.includes(Buffer.from(secret))).toBe(false)
        expectNoFormLeft(output, secrets)
      }),
      {numRuns: 300},
    )
  })
})

describe('createMaskingTransform', () => {
  async function throughTransform(secrets: readonly string[], chunks: readonly (Buffer | string)[]): Promise<string> {
    const received: Buffer[] = []
    await pipeline(
      Readable.from(chunks.map((chunk) => Buffer.from(chunk)), {objectMode: false}),
      createMaskingTransform(secrets),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received.push(chunk)
          callback()
        },
      }),
    )
    return Buffer.concat(received).toString()
  }

  it('masks secrets split across chunks and flushes the held tail at the end', async () => {
    const secret = 'hunter2hunter2'
    const output = await throughTransform([secret], ['login ', 'hunter', '2hunter2', ' ok\nbase64: ', b64('u:' + secret), '\nbye hunt'])
    expect(output).toBe(`login ${MASK_REPLACEMENT} ok\nbase64: dTp${MASK_REPLACEMENT}g==\nbye hunt`)
  })

  it('leaves output alone when there are no secrets', async () => {
    expect(await throughTransform([], ['a', 'b\n', ''])).toBe('ab\n')
  })

  it('masks big reads like the small ones', async () => {
    const secret = 'sk-X70oCpDEPvunEIKAUxxBQ2BoqsAiVxU03wJq8mxJL46GE'
    const line = 'the quick brown fox jumps over the lazy dog\n'
    const big = line.repeat(3000)
    const output = await throughTransform([secret], [big + secret.slice(0, 10), secret.slice(10) + big, big + secret])
    expect(output).toBe(big + MASK_REPLACEMENT + big + big + MASK_REPLACEMENT)
  })
})
