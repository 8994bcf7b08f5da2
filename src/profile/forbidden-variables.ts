/**
 * Variables a profile may not set, because they change which code a program loads or runs: a
 * profile is data, and must never become a way to execute something. Exact names, then prefixes.
 */
const FORBIDDEN_NAMES = new Set([
  // Dynamic loaders and interpreters
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_REPL_EXTERNAL_MODULE',
  'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYTHONINSPECT', 'PYTHONBREAKPOINT',
  'PERL5LIB', 'PERL5OPT', 'PERLLIB', 'RUBYOPT', 'RUBYLIB',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
  // Shells
  'BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'IFS', 'ZDOTDIR', 'SHELL',
  // Where programs find other programs and their config
  'PATH', 'HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'TMPDIR',
  // Git and SSH run these as commands
  'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_ASKPASS', 'SSH_ASKPASS', 'GIT_PROXY_COMMAND',
  'GIT_EXTERNAL_DIFF', 'GIT_EDITOR', 'GIT_PAGER', 'GIT_TEMPLATE_DIR', 'EDITOR', 'VISUAL', 'PAGER',
  'SSH_AUTH_SOCK',
])
const FORBIDDEN_PREFIXES = ['LD_', 'DYLD_', 'GIT_CONFIG', 'BASH_FUNC_']

/**
 * Why a profile may not set `name`, or undefined when it may. npm settings are refused except the
 * registry auth ones (`npm_config_//host/:_authToken`), which are how a token reaches npm.
 */
export function findForbiddenVariableReason(name: string): string | undefined {
  const upper = name.toUpperCase()
  if (FORBIDDEN_NAMES.has(upper) || FORBIDDEN_PREFIXES.some((prefix) => upper.startsWith(prefix))) {
    return `${name} changes which code programs load or run`
  }
  if (upper.startsWith('NPM_CONFIG_') && !/^NPM_CONFIG_\/\/.+:_(AUTHTOKEN|AUTH|PASSWORD)$/.test(upper)) {
    return `${name} changes how npm runs (only registry credentials such as npm_config_//host/:_authToken may be set)`
  }
  return undefined
}
