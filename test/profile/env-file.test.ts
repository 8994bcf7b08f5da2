import {describe, expect, it} from 'vitest'

import {parseEnvFile} from '../../src/profile/env-file.js'

const environment: Record<string, string> = {HOME: '/home/me', APP_ENV: 'prod', EMPTY: ''}
const parse = (text: string) => Object.fromEntries(parseEnvFile(text, (name) => environment[name]).map((entry) => [entry.name, entry.value]))

describe('parseEnvFile (op run --env-file syntax)', () => {
  it('reads references, comments, blank lines, export and spaces around =', () => {
    expect(
      parse(`# a comment

export NPM_TOKEN=op://Private/npm/token
TWINE_PASSWORD = op://Private/PyPI/token   # inline comment
EMPTY_VALUE=
`),
    ).toEqual({NPM_TOKEN: 'op://Private/npm/token', TWINE_PASSWORD: 'op://Private/PyPI/token', EMPTY_VALUE: ''})
  })

  it('expands $VAR, ${VAR} and ${VAR:-default} from earlier names first, then the environment', () => {
    expect(
      parse(`VAULT=Work
A=op://$VAULT/db/password
B=op://\${APP_ENV}/db/password
C=\${MISSING:-fallback} \${EMPTY:-was-empty} \${EMPTY-kept-empty}
D=\\$HOME stays`),
    ).toEqual({VAULT: 'Work', A: 'op://Work/db/password', B: 'op://prod/db/password', C: 'fallback was-empty ', D: '$HOME stays'})
  })

  it('does not expand inside single quotes and does not re-expand substituted text', () => {
    const values = parseEnvFile(`A='$HOME'\nB=$C\n`, (name) => (name === 'C' ? '$HOME' : environment[name]))
    expect(values.map((entry) => entry.value)).toEqual(['$HOME', '$HOME'])
  })

  it('lets a name in the file win over the same name in the environment', () => {
    expect(parse('APP_ENV=staging\nX=$APP_ENV')).toEqual({APP_ENV: 'staging', X: 'staging'})
  })

  it('reads double-quoted values with escapes over several lines, keeping the first line number', () => {
    const entries = parseEnvFile('KEY="line one\nline two \\"quoted\\" \\t tab"\nNEXT=1', () => undefined)
    expect(entries).toEqual([
      {name: 'KEY', value: 'line one\nline two "quoted" \t tab', line: 1},
      {name: 'NEXT', value: '1', line: 3},
    ])
  })

  it('keeps {{ op://… }} templates for the caller to resolve', () => {
    expect(parse('URL="postgres://me:{{ op://Private/db/password }}@host/db"')).toEqual({URL: 'postgres://me:{{ op://Private/db/password }}@host/db'})
  })

  it.each([
    ['not an assignment', 'line 1: expected NAME=value'],
    ['1BAD=x', 'line 1: "1BAD" is not a valid variable name'],
    ['A=1\nB="never closed\n', 'line 2: the double quote is never closed'],
    ["A='x' trailing", 'line 1: unexpected text after the closing quote'],
  ])('rejects %j with the line number', (text, message) => {
    expect(() => parseEnvFile(text, () => undefined)).toThrow(message)
  })
})
