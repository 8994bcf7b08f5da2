import {describe, expect, it} from 'vitest'

import {EXEC_MARKER, buildChildEnvironment} from '../../src/exec/child-environment.js'

const parent = {
  PATH: '/usr/bin',
  HOME: '/home/me',
  LANG: 'C.UTF-8',
  GITHUB_TOKEN: 'ghp_ambient',
  NPM_TOKEN: 'npm_ambient',
  NODE_AUTH_TOKEN: 'x',
  TWINE_PASSWORD: 'x',
  PGPASSWORD: 'x',
  CLIENT_SECRET: 'x',
  OPENAI_API_KEY: 'x',
  AWS_ACCESS_KEY_ID: 'x',
  AWS_PROFILE: 'x',
  OP_SERVICE_ACCOUNT_TOKEN: 'ops_x',
  OP_SESSION_my: 'x',
  'npm_config_//registry.npmjs.org/:_authToken': 'x',
  SSH_AUTH_SOCK: '/tmp/agent.sock',
  TOKENIZERS_PARALLELISM: 'false',
}

describe('buildChildEnvironment', () => {
  it('removes every ambient credential, keeps the rest, and adds exactly the secrets and the marker', () => {
    const {environment, scrubbed} = buildChildEnvironment(parent, {secrets: new Map([['NPM_TOKEN', 'npm_from_1password']]), sshAgent: false, marker: '~/src/project/.secure.toml'})
    expect(environment).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      TOKENIZERS_PARALLELISM: 'false',
      NPM_TOKEN: 'npm_from_1password',
      [EXEC_MARKER]: '~/src/project/.secure.toml',
    })
    expect(scrubbed).toEqual(Object.keys(parent).filter((name) => !['PATH', 'HOME', 'LANG', 'TOKENIZERS_PARALLELISM'].includes(name)).sort())
  })

  it('keeps the SSH agent only when asked', () => {
    const {environment} = buildChildEnvironment(parent, {secrets: new Map(), sshAgent: true, marker: 'none'})
    expect(environment.SSH_AUTH_SOCK).toBe('/tmp/agent.sock')
  })
})
