import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {type HomeProfileAddition, extendHomeProfile, readHomeProfile} from '../../src/profile/extend-user-config.js'
import {readUserConfig} from '../../src/profile/user-config.js'
import {makeTempDir} from '../helpers/temp-dir.js'

const HOME = '/home/me'
const NPM = 'npm_config_//registry.npmjs.org/:_authToken'
const ADDITION: HomeProfileAddition = {
  secrets: new Map([
    [NPM, 'op://vaultid/itemid/password'],
    ['GH_TOKEN', 'op://vaultid/item2/password'],
  ]),
  commands: new Map([
    ['npm', [NPM]],
    ['gh', ['GH_TOKEN']],
  ]),
  hookExec: ['npm publish', 'gh'],
}

function extend(text: string, addition: HomeProfileAddition = ADDITION) {
  return extendHomeProfile(text, '~/.config/secure/config.toml', HOME, addition, 'added by a test')
}

/** The config as secure itself reads it, from a real file. */
async function homeEntryOf(text: string) {
  const file = join(await makeTempDir(), 'config.toml')
  await writeFile(file, text)
  return (await readUserConfig(file, HOME)).directories.find((entry) => entry.directory === HOME)?.settings
}

describe('extendHomeProfile', () => {
  it('appends the tables after the text, which stays byte for byte, and the result reads as intended', async () => {
    const text = '# mine\n[onepassword]\nprovider   =   "op"    # aligned, on purpose\n\n[sandbox]\nmemory = 4096\n'

    const {text: result, addedLines} = extend(text)

    expect(result.startsWith(`${text}\n# added by a test\n`)).toBe(true)
    expect(addedLines[0]).toBe('# added by a test')
    const settings = await homeEntryOf(result)
    expect(Object.fromEntries(settings!.secrets)).toEqual({[NPM]: 'op://vaultid/itemid/password', GH_TOKEN: 'op://vaultid/item2/password'})
    expect(Object.fromEntries(settings!.commands!)).toEqual({npm: [NPM], gh: ['GH_TOKEN']})
    expect(settings!.hook.exec).toEqual(['npm publish', 'gh'])
  })

  it('writes a config from nothing, and adds a newline to a text that had none', () => {
    expect(extend('').text.startsWith('# added by a test\n[directories."~".secrets]\n')).toBe(true)
    expect(extend('[onepassword]\nprovider = "op"').text.startsWith('[onepassword]\nprovider = "op"\n\n# added by a test\n')).toBe(true)
  })

  it('adds secrets under an existing [directories."~".secrets] header, and keeps the programs the hook wrapped before', async () => {
    const text = `[directories.'~'.secrets]   # mine\nDEPLOY = "op://Private/deploy/key"\n\n[directories."~".commands.deploy]\nsecrets = ["DEPLOY"]\n`

    const {text: result} = extend(text)

    expect(result.startsWith(`[directories.'~'.secrets]   # mine\n${JSON.stringify(NPM)} = "op://vaultid/itemid/password"\nGH_TOKEN = "op://vaultid/item2/password"\nDEPLOY`)).toBe(true)
    const settings = await homeEntryOf(result)
    expect([...settings!.secrets.keys()]).toEqual([NPM, 'GH_TOKEN', 'DEPLOY'])
    expect(Object.fromEntries(settings!.commands!)).toEqual({deploy: ['DEPLOY'], npm: [NPM], gh: ['GH_TOKEN']})
    expect(settings!.hook.exec).toEqual(['deploy', 'npm publish', 'gh'])
  })

  it('adds nothing it finds already there, and changes not a byte when everything is', () => {
    const once = extend('').text
    expect(extend(once)).toEqual({text: once, addedLines: [], notes: []})
  })

  it('uses the key the user wrote for the home directory', async () => {
    const text = `[directories."${HOME}".commands.other]\nsecrets = []\n`
    const result = extend(text).text
    expect(result).toContain(`[directories."${HOME}".secrets]`)
    expect(readHomeProfile(result, HOME).key).toBe(HOME)
  })

  it('leaves an existing [hook] alone, and says what it does not route', () => {
    const text = '[directories."~".hook]\nexec = ["gh"]\n'
    const {text: result, notes} = extend(text)
    expect(result).not.toMatch(/\[directories\."~"\.hook\][\s\S]*\[directories\."~"\.hook\]/)
    expect(notes).toEqual(['your [directories."~".hook] does not route npm publish through secure exec: add it to its exec list, or type secure exec -- …'])
  })

  it.each([
    ['another value for the variable', '[directories."~".secrets]\nGH_TOKEN = "op://Private/other/password"\n', 'DOCTOR_CONFIG_CONFLICT', 'already gives GH_TOKEN = "op://Private/other/password"'],
    ['secrets for every program (no [commands])', '[directories."~".secrets]\nDEPLOY = "op://Private/deploy/key"\n', 'DOCTOR_CONFIG_CONFLICT', 'gives every program all of its secrets'],
    ['a [commands.npm] without the variable', `[directories."~".secrets]\nX = "op://a/b/c"\n[directories."~".commands.npm]\nsecrets = ["X"]\n`, 'DOCTOR_CONFIG_CONFLICT', `has [commands.npm] without ${NPM}`],
    ['an inline secrets table', '[directories."~"]\nsecrets = {X = "op://a/b/c"}\n[directories."~".commands.x]\nsecrets = ["X"]\n', 'DOCTOR_CONFIG_UNEDITABLE', 'is written in a way secure cannot add to'],
    ['an inline [directories] table', 'directories = {"~/src" = {secrets = {}}}\n', 'DOCTOR_CONFIG_UNEDITABLE', 'is written in a way secure cannot add to'],
    ['two entries for the home directory', `[directories."~".commands.a]\nsecrets = []\n[directories."${HOME}".commands.b]\nsecrets = []\n`, 'DOCTOR_CONFIG_CONFLICT', 'more than one [directories] entry'],
  ])('refuses %s', (_name, text, code, message) => {
    expect(() => extend(text)).toThrow(expect.objectContaining({code, message: expect.stringContaining(message)}))
  })
})
