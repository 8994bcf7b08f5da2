import {readFile, stat} from 'node:fs/promises'

import {type SecurePaths, displayPath} from '../paths.js'
import {type Profile, findNearestProfileFile, findUserEntry, loadProfileForDirectory} from '../profile/load-profile.js'
import {TrustStore, fingerprintProfile} from '../profile/trust-store.js'

/** One shell function the hook defines: which first arguments go through `secure exec` or `secure run`. */
export interface Wrapper {
  program: string
  /** `all`: every call; else the first arguments that are routed (`publish`). */
  exec: 'all' | readonly string[]
  run: 'all' | readonly string[]
}

/**
 * What the shell checks with builtins, at every prompt, to tell whether an activation still holds;
 * when one check fails it works the directory out again.
 */
export interface ActivationWatch {
  /** Files that must still exist and be older than the shell's stamp: the profile, its env files. */
  files: string[]
  /** Files that must exist: the allow record of an allowed profile. */
  present: string[]
  /** Files that must not exist: the allow record of a profile that is not allowed, the deny record. */
  absent: string[]
}

/**
 * What the hook does in a directory. Nothing about any secret's value is in it, and nothing about
 * the shell it runs in: which ambient credentials to remove, the shell works out for itself (they
 * are its own), so the same activation can be cached and served to any shell.
 */
export interface Activation {
  /** For the status line and the unexported prompt variable: `~/src/project (allowed)`. */
  label: string
  wrappers: Wrapper[]
  /** Remove the shell's ambient credentials (an untrusted directory). */
  scrub: boolean
  /** The one status line for stderr (the shell adds which credentials it removed). */
  status: string
  watch: ActivationWatch
  /**
   * Set when a shell may later be served this activation from the cache, without Node: the profile
   * is the only thing that applies here (no env files, no `[directories]` entry), and `content` is
   * exactly the bytes the trust decision was made on (they hash to `fingerprint`).
   */
  cacheable?: {file: string; fingerprint: string; content: Buffer}
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
  // Read before the profile is loaded: when their fingerprint is the one loading judged, these are
  // the very bytes the decision was made on, not a later edit.
  const nearest = await findNearestProfileFile(cwd)
  const bytes = nearest ? await readFile(nearest).catch(() => undefined) : undefined
  const {profile, userConfig} = await loadProfileForDirectory(cwd, paths, environment)
  const {source} = profile
  const where = source.kind === 'repository' || source.kind === 'user-config' ? displayPath(source.directory, paths.home) : displayPath(cwd, paths.home)
  const watch: ActivationWatch = {files: [], present: [], absent: []}
  const trustStore = new TrustStore(paths.trustDirectory)
  let cacheable: Activation['cacheable']

  // The nearest profile passed over because it is denied: an allow elsewhere lifts that.
  if (nearest && !(source.kind === 'repository' && source.file === nearest) && (await trustStore.isDenied(nearest))) watch.present.push(trustStore.denyRecord(nearest))
  if (source.kind === 'repository') {
    watch.files.push(source.file, ...(source.envFiles ?? []))
    if (source.fingerprint) (source.trust === 'allowed' ? watch.present : watch.absent).push(trustStore.allowRecord(source.fingerprint))
    watch.absent.push(trustStore.denyRecord(source.file))
    const alone = source.file === nearest && (source.envFiles ?? []).length === 0 && !findUserEntry(cwd, userConfig)
    if (alone && bytes && source.fingerprint && fingerprintProfile(source.file, bytes, []) === source.fingerprint) {
      cacheable = {file: source.file, fingerprint: source.fingerprint, content: bytes}
    }
  } else {
    watch.files.push(...(await existing([paths.configFile])))
  }

  if (source.kind === 'repository' && source.trust !== 'allowed') {
    const state = source.trust === 'denied' ? 'denied' : 'NOT ALLOWED'
    const advice = source.trust === 'denied' ? '' : `; review it (secure status), then: secure allow`
    return {
      label: `${where} (${source.trust === 'denied' ? 'denied' : 'not allowed'})`,
      wrappers: [],
      scrub: true,
      status: `secure: ${where}: profile ${state}${advice}`,
      watch,
      cacheable,
    }
  }
  const wrappers = wrappersOf(profile)
  const routed = wrappers.flatMap((wrapper) => describeWrapper(wrapper))
  const secrets = [...profile.secrets.keys()]
  return {
    label: source.kind === 'none' ? '' : `${where} (allowed)`,
    wrappers,
    scrub: profile.hook.untrusted === true,
    status: `secure: ${where}: ${[routed.length > 0 ? routed.join(', ') : 'no wrapped commands', ...(secrets.length > 0 ? [`secrets ${secrets.join(', ')}`] : []), ...profile.notes].join('; ')}`,
    watch,
    cacheable,
  }
}

/** The files of `paths` that exist: a watched file that is missing would count as changed at every prompt. */
export async function existing(paths: ReadonlyArray<string | undefined>): Promise<string[]> {
  const found: string[] = []
  for (const path of paths) if (path && (await stat(path).then((info) => info.isFile(), () => false))) found.push(path)
  return found
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
