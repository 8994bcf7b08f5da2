import {readFile} from 'node:fs/promises'
import {parse} from 'smol-toml'
import {describe, expect, it} from 'vitest'

import {readProfileSettings} from '../../src/profile/profile-settings.js'

const starter = new URL('../../templates/profile.toml', import.meta.url)

describe('the starter profile secure init writes', () => {
  it('documents only real settings: with every example uncommented it is a valid profile', async () => {
    const text = await readFile(starter, 'utf8')
    // Example lines are TOML behind "# "; prose lines are not.
    const uncommented = text
      .split('\n')
      .map((line) => line.replace(/^# (?=\[|[A-Za-z_]+ = )/, ''))
      .join('\n')
    const settings = readProfileSettings(parse(uncommented), 'templates/profile.toml')
    expect([...settings.secrets.keys()]).toContain('NPM_TOKEN')
    expect(settings.sandbox).toMatchObject({image: 'node:22', network: true, requireRootless: true})
    expect(settings.publish).toMatchObject({npmToken: 'op://Private/npm/publish-token', build: 'npm ci && npm run build'})
    expect(settings.hook).toEqual({exec: ['twine', 'npm publish'], run: ['npm test', 'pytest']})
  })
})
