import {type SecurePaths, displayPath} from '../paths.js'
import {type Profile, loadProfileForDirectory} from '../profile/load-profile.js'
import {isAmbientCredential} from '../secrets/ambient-credentials.js'

/** One shell function the hook defines: which first arguments go through `secure exec` or `secure run`. */
export interface Wrapper {
  program: string
  /** `all`: every call; else the first arguments that are routed (`publish`). */
  exec: 'all' | readonly string[]
  run: 'all' | readonly string[]
}

/** What the hook does in a directory: nothing about any secret's value is in it. */
export interface Activation {
  /** For the status line and the unexported prompt variable: `~/src/project (allowed)`. */
  label: string
  wrappers: Wrapper[]
  /** Ambient credentials to remove from the shell (names only). */
  scrub: string[]
  /** The one status line for stderr. */
  status: string
}

/**
 * Works out what the shell hook does in `cwd`: the same profile resolution and trust rules as
 * `secure exec`. Only an allowed profile defines functions; one that is not allowed (or marks its
 * directory untrusted) has the shell's ambient credentials removed.
 */
export async function describeActivation(
  cwd: string,
  paths: Pick<SecurePaths, 'configFile' | 'trustDirectory' | 'home'>,
  environment: Readonly<Record<string, string | undefined>>,
): Promise<Activation> {
  const {profile} = await loadProfileForDirectory(cwd, paths, environment)
  const {source} = profile
  const where = source.kind === 'repository' ? displayPath(source.directory, paths.home) : source.kind === 'user-config' ? displayPath(source.directory, paths.home) : displayPath(cwd, paths.home)
  const present = Object.keys(environment).filter((name) => environment[name] !== undefined && isAmbientCredential(name) && name !== 'SSH_AUTH_SOCK')

  if (source.kind === 'repository' && source.trust !== 'allowed') {
    const state = source.trust === 'denied' ? 'denied' : 'NOT ALLOWED'
    const advice = source.trust === 'denied' ? '' : `; review it (secure status), then: secure allow`
    return {
      label: `${where} (${source.trust === 'denied' ? 'denied' : 'not allowed'})`,
      wrappers: [],
      scrub: present,
      status: `secure: ${where}: profile ${state}${advice}${removed(present)}`,
    }
  }
  const wrappers = wrappersOf(profile)
  const scrub = profile.hook.untrusted ? present : []
  const routed = wrappers.flatMap((wrapper) => describeWrapper(wrapper))
  const secrets = [...profile.secrets.keys()]
  return {
    label: source.kind === 'none' ? '' : `${where} (allowed)`,
    wrappers,
    scrub,
    status: `secure: ${where}: ${routed.length > 0 ? routed.join(', ') : 'no wrapped commands'}${secrets.length > 0 ? `; secrets ${secrets.join(', ')}` : ''}${removed(scrub)}`,
  }
}

/** The functions an allowed profile asks for: `[hook] exec`/`run`, else its `[commands.X]` programs. */
function wrappersOf(profile: Profile): Wrapper[] {
  const exec = profile.hook.exec ?? [...(profile.commands?.keys() ?? [])].filter((program) => program !== '*')
  const run = profile.hook.run ?? []
  const wrappers = new Map<string, Wrapper>()
  const add = (command: string, route: 'exec' | 'run') => {
    const [program, argument] = command.split(' ') as [string, string | undefined]
    const wrapper = wrappers.get(program) ?? {program, exec: [], run: []}
    if (argument === undefined) wrapper[route] = 'all'
    else if (wrapper[route] !== 'all') wrapper[route] = [...(wrapper[route] as readonly string[]), argument]
    wrappers.set(program, wrapper)
  }
  for (const command of exec) add(command, 'exec')
  for (const command of run) add(command, 'run')
  return [...wrappers.values()]
}

function describeWrapper(wrapper: Wrapper): string[] {
  const describe = (route: Wrapper['exec'], via: string) =>
    route === 'all' ? [`${wrapper.program} → ${via}`] : route.length > 0 ? [`${wrapper.program} ${route.join('|')} → ${via}`] : []
  return [...describe(wrapper.exec, 'secure exec'), ...describe(wrapper.run, 'secure run')]
}

function removed(names: readonly string[]): string {
  return names.length > 0 ? `; removed ${names.join(', ')} from this shell` : ''
}
