import {describe, expect, it} from 'vitest'

import {findForbiddenVariableReason} from '../../src/profile/forbidden-variables.js'

describe('variables a profile may not set', () => {
  it.each(['NODE_OPTIONS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'GIT_SSH_COMMAND', 'GIT_CONFIG_COUNT', 'PYTHONPATH', 'PATH', 'BASH_ENV', 'npm_config_script_shell', 'NPM_CONFIG_REGISTRY', 'JAVA_TOOL_OPTIONS', 'SSH_AUTH_SOCK'])(
    'refuses %s',
    (name) => {
      expect(findForbiddenVariableReason(name)).toMatch(/changes/)
    },
  )

  it.each(['NPM_TOKEN', 'GITHUB_TOKEN', 'TWINE_PASSWORD', 'npm_config_//registry.npmjs.org/:_authToken', 'DATABASE_URL'])('accepts %s', (name) => {
    expect(findForbiddenVariableReason(name)).toBeUndefined()
  })
})
