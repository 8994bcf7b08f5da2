import {BugError} from '../errors.js'
import {AMBIENT_CREDENTIAL_PATTERNS} from '../secrets/ambient-credentials.js'
import {type Activation, type ActivationWatch, type Wrapper} from './activation.js'
import {fishHook} from './fish-hook.js'
import {posixHook} from './posix-hook.js'
import {fishQuote, posixQuote} from './shell-quote.js'

/** The shells `secure hook` supports. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** bash and zsh read the same activation code (and share cache entries); fish has its own. */
export type ShellFamily = 'posix' | 'fish'

export function shellFamily(shell: Shell): ShellFamily {
  return shell === 'fish' ? 'fish' : 'posix'
}

/** What the hook needs to know, as absolute paths baked in when it is printed (as direnv does). */
export interface HookPaths {
  /** Node.js (>= 22) that runs secure, its CLI (bin/run.js), and the hook's own entry point
   * (dist/hook/hook-entry.js), which does not load oclif. */
  node: string
  cli: string
  entry: string
  /** `cmp`, found at install time (not looked up on PATH later, where a repository may put its own);
   * empty when there is none: no cached activations then. */
  cmp: string
  /** `grep`, found the same way, for the names of ambient credentials; plain `grep` when there is none. */
  grep: string
  /** The activation cache (see activation-cache.ts); empty when unusable. */
  cache: string
  /** Where this shell writes its stamps; empty when there is no such place. */
  stamps: string
  /** The user's config file: a cached activation is not used once it has changed. */
  config: string
  /** The `[directories."…"]` of the user's config: a profile the shell must look for besides .secure.toml. */
  directories: readonly string[]
}

/**
 * The hook a shell's rc file evals. Every prompt checks, with builtins only, that the directory
 * and what its profile was worked out from (the profile's file, the trust records) are as they
 * were; a directory change walks up for a .secure.toml, in the shell too. Only a different or
 * changed profile is worked out again: from the cache when it holds an entry for the same bytes and
 * trust state, else by the small entry point. State lives in unexported shell variables, and never
 * holds a secret. bash: PROMPT_COMMAND plus cd/pushd/popd wrappers, so `cd repo && npm test` is
 * covered on the same line (shell-hook.md §3). zsh: precmd and chpwd. fish: a PWD handler that is
 * never erased, plus fish_prompt. The bash code avoids anything newer than bash 3.2 (macOS).
 */
export function renderHook(shell: Shell, paths: HookPaths): string {
  return shell === 'fish' ? fishHook(paths, credentialNamePattern()) : posixHook(shell, paths, credentialNamePattern())
}

/**
 * The code that activates one directory, as the entry point prints it and the cache keeps it:
 * the test that it still holds (`__secure_next_holds`), and in `__secure_next_code` the wrappers,
 * scrubbing and the status line. `copy` is the cache's copy of the profile's bytes, for an entry.
 */
export function renderActivation(shell: Shell, activation: Activation, copy = ''): string {
  const fish = shell === 'fish'
  const quote = fish ? fishQuote : posixQuote
  const code = ['__secure_deactivate quiet']
  for (const wrapper of activation.wrappers) code.push(fish ? fishWrapper(wrapper) : posixWrapper(wrapper))
  const names = activation.wrappers.map((wrapper) => wrapper.program)
  code.push(fish ? `set -g __secure_functions ${names.map(fishQuote).join(' ')}` : `__secure_functions=${posixQuote(names.join(' '))}`)
  if (activation.scrub) code.push('__secure_scrub')
  // unset first: an exported SECURE_PROFILE from a parent must not stay exported.
  code.push(fish ? `set -g SECURE_PROFILE ${fishQuote(activation.label)}` : `unset SECURE_PROFILE; SECURE_PROFILE=${posixQuote(activation.label)}`)
  code.push(`__secure_say ${quote(activation.status)}`)

  const scalar = (name: string, value: string) => (fish ? `set -g __secure_next_${name} ${quote(value)}` : `__secure_next_${name}=${quote(value)}`)
  return `${[
    scalar('file', activation.cacheable?.file ?? ''),
    scalar('copy', copy),
    scalar('holds', fish ? fishHolds(activation.watch) : posixHolds(activation.watch)),
    scalar('code', code.join('\n')),
  ].join('\n')}\n`
}

/**
 * The test, one [[ ]] with the paths written in (no loop: it runs at every prompt), that what an
 * activation was worked out from still holds: the watched files exist and are older than the
 * shell's stamp (when it has one), the trust records are as they were.
 */
function posixHolds(watch: ActivationWatch): string {
  const tests = [
    ...watch.files.flatMap((file) => [`-f ${posixQuote(file)}`, `( -z $__secure_stamp || $__secure_stamp -nt ${posixQuote(file)} )`]),
    ...watch.present.map((file) => `-e ${posixQuote(file)}`),
    ...watch.absent.map((file) => `! -e ${posixQuote(file)}`),
  ]
  return tests.length > 0 ? `[[ ${tests.join(' && ')} ]]` : ':'
}

function fishHolds(watch: ActivationWatch): string {
  const tests = [
    ...watch.files.flatMap((file) => [`test -f ${fishQuote(file)}`, `begin; test -z "$__secure_stamp"; or test "$__secure_stamp" -nt ${fishQuote(file)}; end`]),
    ...watch.present.map((file) => `test -e ${fishQuote(file)}`),
    ...watch.absent.map((file) => `not test -e ${fishQuote(file)}`),
  ]
  return tests.length > 0 ? tests.join('; and ') : 'true'
}

/**
 * secure exec's ambient credential patterns as one POSIX extended regular expression, matched
 * without regard to case (they are meant for the upper-cased name) by `grep -E -i` in bash and zsh
 * and `string match -r -i` in fish, which read it alike.
 */
export function credentialNamePattern(): string {
  return AMBIENT_CREDENTIAL_PATTERNS.map(({pattern}) => {
    const source = pattern.source.replaceAll('\\/', '/')
    if (!/^[A-Z0-9_^$()|?/]*$/.test(source)) {
      throw new BugError(`the credential pattern /${pattern.source}/ uses more than the shells' regular expressions share`, {
        code: 'HOOK_PATTERN_UNPORTABLE',
        hint: 'write it with upper-case letters, digits, _ ^ $ ( ) | ? only',
      })
    }
    return `(${source})`
  }).join('|')
}

function posixWrapper(wrapper: Wrapper): string {
  const via = (route: 'exec' | 'run') => `__secure_run ${route} -- ${wrapper.program} "$@"`
  if (wrapper.exec === 'all') return `${wrapper.program}() { ${via('exec')}; }`
  if (wrapper.run === 'all') return `${wrapper.program}() { ${via('run')}; }`
  const cases = [
    ...(wrapper.exec.length > 0 ? [`${wrapper.exec.join('|')}) ${via('exec')};;`] : []),
    ...(wrapper.run.length > 0 ? [`${wrapper.run.join('|')}) ${via('run')};;`] : []),
  ]
  return `${wrapper.program}() { case "\${1-}" in ${cases.join(' ')} *) command ${wrapper.program} "$@";; esac; }`
}

function fishWrapper(wrapper: Wrapper): string {
  const via = (route: 'exec' | 'run') => `__secure_run ${route} -- ${wrapper.program} $argv`
  if (wrapper.exec === 'all') return `function ${wrapper.program}; ${via('exec')}; end`
  if (wrapper.run === 'all') return `function ${wrapper.program}; ${via('run')}; end`
  const cases = [
    ...(wrapper.exec.length > 0 ? [`case ${wrapper.exec.join(' ')}; ${via('exec')}`] : []),
    ...(wrapper.run.length > 0 ? [`case ${wrapper.run.join(' ')}; ${via('run')}`] : []),
  ]
  return `function ${wrapper.program}; switch "$argv[1]"; ${cases.join('; ')}; case '*'; command ${wrapper.program} $argv; end; end`
}
