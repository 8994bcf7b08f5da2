import {createHash} from 'node:crypto'
import {mkdir, rm, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** Whether a repository's profile may be used. */
export type TrustState = 'allowed' | 'not-allowed' | 'denied'

/**
 * The allow and deny lists, as files named by hash (like direnv's): `allow/<fingerprint>` says "this
 * exact profile, at this exact path, was reviewed"; `deny/<sha256 of path>` blocks a path whatever
 * its contents. Each file holds the profile's path, so the lists can be read by a person.
 */
export class TrustStore {
  constructor(private readonly directory: string) {}

  /** The trust state of a profile, given its path and fingerprint (see {@link fingerprintProfile}). */
  async trustState(file: string, fingerprint: string): Promise<TrustState> {
    if (await this.isDenied(file)) return 'denied'
    return (await exists(this.allowRecord(fingerprint))) ? 'allowed' : 'not-allowed'
  }

  /** True when the path is on the deny list, whatever its content. */
  async isDenied(file: string): Promise<boolean> {
    return exists(this.denyRecord(file))
  }

  /** Allows this exact content at this path, and lifts a deny of the path. */
  async allow(file: string, fingerprint: string): Promise<void> {
    await rm(this.denyRecord(file), {force: true})
    await writePrivate(this.allowRecord(fingerprint), `${file}\n`)
  }

  /** Blocks the path, whatever its content, and forgets its current allow. */
  async deny(file: string, fingerprint: string | undefined): Promise<void> {
    if (fingerprint) await rm(this.allowRecord(fingerprint), {force: true})
    await writePrivate(this.denyRecord(file), `${file}\n`)
  }

  /** The file whose existence says that this exact profile is allowed (the shell hook tests for it). */
  allowRecord(fingerprint: string): string {
    return join(this.directory, 'allow', fingerprint)
  }

  /** The file whose existence says that the profile at this path is denied. */
  denyRecord(file: string): string {
    return join(this.directory, 'deny', sha256(file))
  }
}

/**
 * The hash an allow pins: the profile's absolute path and its bytes, plus every env file it reads
 * (name and bytes), so an edit to any of them, or a move, makes the profile inert again.
 */
export function fingerprintProfile(file: string, content: Buffer, envFiles: ReadonlyArray<{path: string; content: Buffer}>): string {
  const hash = createHash('sha256').update(file).update('\0').update(content)
  for (const envFile of envFiles) hash.update('\0').update(envFile.path).update('\0').update(envFile.content)
  return hash.digest('hex')
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function writePrivate(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), {recursive: true, mode: 0o700})
  await writeFile(path, text, {mode: 0o600})
}

