/**
 * Which variables of the user's shell are credentials that no child should inherit by accident.
 * `secure exec` removes them before adding exactly the profile's secrets; `secure status` and
 * `secure doctor` name them. Matched on the upper-cased name. Documented in the README.
 */
export const AMBIENT_CREDENTIAL_PATTERNS: ReadonlyArray<{pattern: RegExp; example: string}> = [
  {pattern: /(^|_)TOKEN(_|$)/, example: 'GITHUB_TOKEN, NPM_TOKEN, NODE_AUTH_TOKEN'},
  {pattern: /(^|_)SECRET/, example: 'CLIENT_SECRET, SECRET_KEY_BASE'},
  {pattern: /PASSW(OR)?D/, example: 'TWINE_PASSWORD, PGPASSWORD'},
  {pattern: /(^|_)(API_?KEY|ACCESS_KEY|PRIVATE_KEY|AUTH|CREDENTIALS?|PAT)(_|$)/, example: 'OPENAI_API_KEY, GOOGLE_APPLICATION_CREDENTIALS'},
  {pattern: /^AWS_/, example: 'AWS_ACCESS_KEY_ID, AWS_PROFILE'},
  {pattern: /^OP_/, example: 'OP_SERVICE_ACCOUNT_TOKEN, OP_SESSION_my'},
  {pattern: /^NPM_CONFIG_(\/\/|_AUTH)/, example: 'npm_config_//registry.npmjs.org/:_authToken'},
  {pattern: /^SSH_AUTH_SOCK$/, example: 'SSH_AUTH_SOCK (kept with --ssh-agent)'},
]

/** True when `name` looks like a credential. */
export function isAmbientCredential(name: string): boolean {
  const upper = name.toUpperCase()
  return AMBIENT_CREDENTIAL_PATTERNS.some(({pattern}) => pattern.test(upper))
}
