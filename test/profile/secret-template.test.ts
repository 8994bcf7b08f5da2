import {describe, expect, it} from 'vitest'

import {parseSecretTemplate, renderSecretTemplate} from '../../src/profile/secret-template.js'

describe('secret templates', () => {
  it('takes a whole value as one reference, spaces included', () => {
    expect(parseSecretTemplate(' op://My Vault/My Item/password ').references).toEqual(['op://My Vault/My Item/password'])
  })

  it('finds enclosed and unenclosed references inside text and fills them in', () => {
    const template = parseSecretTemplate('postgres://{{ op://db/prod/user }}:{{op://db/prod/password}}@host?ssl=op://db/prod/mode x')
    expect(template.references).toEqual(['op://db/prod/user', 'op://db/prod/password', 'op://db/prod/mode'])
    const values = new Map([
      ['op://db/prod/user', 'me'],
      ['op://db/prod/password', 'p@ss {{ }}'],
      ['op://db/prod/mode', 'require'],
    ])
    expect(renderSecretTemplate(template, values)).toBe('postgres://me:p@ss {{ }}@host?ssl=require x')
  })

  it('treats a value without references as literal text', () => {
    const template = parseSecretTemplate('plain value')
    expect(template.references).toEqual([])
    expect(renderSecretTemplate(template, new Map())).toBe('plain value')
  })
})

describe('near misses', () => {
  it.each(['OP://Private/npm/token', 'op:/Private/npm/token', 'Op://Private/npm'])('takes %j as a reference, so that checking it reports the typo', (value) => {
    expect(parseSecretTemplate(value).references).toEqual([value])
  })
})
