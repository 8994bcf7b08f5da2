import {type Activation, type Wrapper} from './activation.js'

/** The shells `secure hook` supports. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** Where the hook finds secure: absolute paths, baked in when the hook is printed (as direnv does). */
export interface HookPaths {
  /** Node.js (>= 22) that runs secure, its CLI (bin/run.js), and the hook's own entry point
   * (dist/hook/hook-entry.js), which does not load oclif. */
  node: string
  cli: string
  entry: string
  /** The `[directories."…"]` of the user's config: a profile the shell must look for besides .secure.toml. */
  directories: readonly string[]
}

/**
 * The hook a shell's rc file evals. On every prompt it compares $PWD with the last one, in the
 * shell itself (no process). On a directory change it walks up for a .secure.toml and checks the
 * configured directories, still without a process; only when that finds a different profile than
 * before does it run the small entry point, whose output defines the wrappers. State lives in
 * unexported shell variables, and never holds a secret.
 * bash: PROMPT_COMMAND plus cd/pushd/popd wrappers, so `cd repo && npm test` is covered on the same
 * line (shell-hook.md §3). zsh: precmd and chpwd. fish: a PWD handler that is never erased, plus
 * fish_prompt. The bash code avoids anything newer than bash 3.2 (macOS).
 */
export function renderHook(shell: Shell, paths: HookPaths): string {
  return shell === 'fish' ? fishHook(paths) : posixHook(shell, paths)
}

/** The code the entry point prints for one directory: wrappers, scrubbing, the status line. */
export function renderActivation(shell: Shell, activation: Activation): string {
  const lines = ['__secure_deactivate quiet']
  for (const wrapper of activation.wrappers) lines.push(shell === 'fish' ? fishWrapper(wrapper) : posixWrapper(wrapper))
  const names = activation.wrappers.map((wrapper) => wrapper.program)
  if (shell === 'fish') {
    lines.push(`set -g __secure_functions ${names.map(fishQuote).join(' ')}`)
    for (const name of activation.scrub) lines.push(`set -e ${name}`)
    lines.push(`set -g SECURE_PROFILE ${fishQuote(activation.label)}`, `printf '%s\\n' ${fishQuote(activation.status)} >&2`)
  } else {
    lines.push(`__secure_functions=${posixQuote(names.join(' '))}`)
    if (activation.scrub.length > 0) lines.push(`unset ${activation.scrub.join(' ')}`)
    // unset first: an exported SECURE_PROFILE from a parent must not stay exported.
    lines.push('unset SECURE_PROFILE', `SECURE_PROFILE=${posixQuote(activation.label)}`, `printf '%s\\n' ${posixQuote(activation.status)} >&2`)
  }
  return `${lines.join('\n')}\n`
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

function posixHook(shell: 'bash' | 'zsh', paths: HookPaths): string {
  const install =
    shell === 'bash'
      ? [
          '# Same-line effect: `cd repo && npm test` must not wait for the next prompt.',
          'cd() { builtin cd "$@" && __secure_hook; }',
          'pushd() { builtin pushd "$@" && __secure_hook; }',
          'popd() { builtin popd "$@" && __secure_hook; }',
          'case ";${PROMPT_COMMAND-};" in',
          '  *";__secure_hook;"*) ;;',
          '  *) if [ "$(declare -p PROMPT_COMMAND 2>/dev/null | cut -c1-10)" = "declare -a" ]; then',
          '       PROMPT_COMMAND=(__secure_hook "${PROMPT_COMMAND[@]}")',
          '     else',
          '       PROMPT_COMMAND="__secure_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"',
          '     fi ;;',
          'esac',
        ]
      : ['autoload -Uz add-zsh-hook', 'add-zsh-hook precmd __secure_hook', 'add-zsh-hook chpwd __secure_hook']
  return `${[
    `# secure shell hook (${shell}): eval "$(secure hook ${shell})" in your rc file.`,
    `__secure_node=${posixQuote(paths.node)}`,
    `__secure_cli=${posixQuote(paths.cli)}`,
    `__secure_entry=${posixQuote(paths.entry)}`,
    `__secure_directories=(${paths.directories.map(posixQuote).join(' ')})`,
    "__secure_pwd=''",
    "__secure_key=''",
    "__secure_functions=''",
    '__secure_run() { "$__secure_node" "$__secure_cli" "$@"; }',
    '__secure_deactivate() {',
    '  local name',
    // zsh does not split an unquoted parameter by default.
    `  for name in ${shell === 'zsh' ? '${=__secure_functions}' : '$__secure_functions'}; do unset -f "$name"; done`,
    "  __secure_functions=''",
    '  if [ -n "${SECURE_PROFILE-}" ] && [ "${1-}" != quiet ]; then printf \'secure: left %s\\n\' "$SECURE_PROFILE" >&2; fi',
    '  unset SECURE_PROFILE',
    '}',
    '__secure_hook() {',
    // Not `status`: zsh reserves that name.
    '  local exit_code=$?',
    '  [ "$PWD" = "$__secure_pwd" ] && return $exit_code',
    '  __secure_pwd=$PWD',
    "  local key='' dir=$PWD configured",
    '  while :; do',
    '    if [ -f "$dir/.secure.toml" ]; then key=$dir/.secure.toml; break; fi',
    '    [ -z "$dir" ] && break',
    '    dir=${dir%/*}',
    '  done',
    '  for configured in "${__secure_directories[@]}"; do',
    '    case "$PWD/" in "$configured"/*) key="$key|$configured" ;; esac',
    '  done',
    '  if [ "$key" != "$__secure_key" ]; then',
    '    __secure_key=$key',
    '    if [ -z "$key" ]; then __secure_deactivate; else eval "$("$__secure_node" "$__secure_entry" ' + shell + ' "$PWD")"; fi',
    '  fi',
    '  return $exit_code',
    '}',
    '# After allow, deny or init the same directory may mean something else: look again.',
    'secure() {',
    '  __secure_run "$@"',
    '  local exit_code=$?',
    "  case \"${1-}\" in allow|deny|init) __secure_key='-'; __secure_pwd=''; __secure_hook ;; esac",
    '  return $exit_code',
    '}',
    ...install,
    '__secure_hook',
  ].join('\n')}\n`
}

function fishHook(paths: HookPaths): string {
  return `${[
    '# secure shell hook (fish): secure hook fish | source, in config.fish.',
    `set -g __secure_node ${fishQuote(paths.node)}`,
    `set -g __secure_cli ${fishQuote(paths.cli)}`,
    `set -g __secure_entry ${fishQuote(paths.entry)}`,
    `set -g __secure_directories ${paths.directories.map(fishQuote).join(' ')}`,
    "set -g __secure_pwd ''",
    "set -g __secure_key ''",
    'set -g __secure_functions',
    'function __secure_run; $__secure_node $__secure_cli $argv; end',
    'function __secure_deactivate',
    '  for name in $__secure_functions; functions -e $name; end',
    '  set -g __secure_functions',
    "  if set -q SECURE_PROFILE; and test -n \"$SECURE_PROFILE\"; and test \"$argv[1]\" != quiet; printf 'secure: left %s\\n' $SECURE_PROFILE >&2; end",
    '  set -e SECURE_PROFILE',
    'end',
    '# A PWD handler that is never erased: a cd inside a command line takes effect at once (shell-hook.md §3).',
    'function __secure_hook --on-variable PWD',
    '  test "$PWD" = "$__secure_pwd"; and return',
    '  set -g __secure_pwd $PWD',
    "  set -l key ''",
    '  set -l dir $PWD',
    '  while true',
    '    if test -f "$dir/.secure.toml"; set key "$dir/.secure.toml"; break; end',
    '    test -z "$dir"; and break',
    "    set dir (string replace -r '/[^/]*$' '' -- $dir)",
    '  end',
    '  for configured in $__secure_directories',
    '    if string match -q -- "$configured/*" "$PWD/"; set key "$key|$configured"; end',
    '  end',
    '  if test "$key" != "$__secure_key"',
    '    set -g __secure_key $key',
    '    if test -z "$key"; __secure_deactivate; else; $__secure_node $__secure_entry fish $PWD | source; end',
    '  end',
    'end',
    'function __secure_prompt --on-event fish_prompt; __secure_hook; end',
    'function secure',
    '  __secure_run $argv',
    '  set -l status_code $status',
    "  if contains -- \"$argv[1]\" allow deny init; set -g __secure_key '-'; set -g __secure_pwd ''; __secure_hook; end",
    '  return $status_code',
    'end',
    '__secure_hook',
  ].join('\n')}\n`
}

/** Single quotes for sh, bash and zsh: nothing inside is expanded. */
export function posixQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/** Single quotes for fish, which only knows \\' and \\\\ inside them. */
function fishQuote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}
