import {EnvironmentError} from '../errors.js'

/** How secure names itself to registries (crates.io refuses API requests without a user agent). */
export const USER_AGENT = 'secure-publish'

/** A GET from a registry's public API, nothing of the user's attached; fails as REGISTRY_UNREACHABLE when no answer comes. */
export async function getFromRegistry(url: string, registry: string): Promise<Response> {
  try {
    return await fetch(url, {headers: {accept: 'application/json', 'user-agent': USER_AGENT}, signal: AbortSignal.timeout(30_000)})
  } catch (error) {
    throw registryUnreachable(registry, failureCode(error))
  }
}

/** A registry's JSON answer; undefined when it says 404 (no such package or version). */
export async function fetchRegistryJson<T>(url: string, registry: string): Promise<T | undefined> {
  const response = await getFromRegistry(url, registry)
  if (response.status === 404) return undefined
  if (!response.ok) throw registryUnreachable(registry, `HTTP ${response.status}`)
  try {
    return (await response.json()) as T
  } catch (error) {
    throw registryUnreachable(registry, `a broken answer: ${(error as Error).message}`)
  }
}

/** The bytes of a published file. */
export async function fetchRegistryBytes(url: string, registry: string): Promise<Buffer> {
  const response = await getFromRegistry(url, registry)
  if (!response.ok) throw registryUnreachable(registry, `HTTP ${response.status} for ${url}`)
  try {
    return Buffer.from(await response.arrayBuffer())
  } catch (error) {
    throw registryUnreachable(registry, `a broken answer for ${url}: ${(error as Error).message}`)
  }
}

export function registryUnreachable(registry: string, reason: string): EnvironmentError {
  return new EnvironmentError(`cannot read from the registry ${registry} (${reason})`, {code: 'REGISTRY_UNREACHABLE', hint: 'check the registry URL and your connection'})
}

/** The system error code (ECONNREFUSED) of a failed fetch, else its message. */
export function failureCode(error: unknown): string {
  return String((error as {cause?: {code?: string}}).cause?.code ?? (error as Error).message)
}
