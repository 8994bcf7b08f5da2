import {fetchRegistryJson} from './registry-http.js'

// secure watch reads other registry documents with it, from here.

/** The parts of a packument (`GET /<name>`) that a release and `secure watch` read (publishing.md §3.1). */
export interface Packument {
  'dist-tags'?: Record<string, string>
  versions?: Record<string, PackumentVersion>
  /** When each version was published (ISO 8601), plus `created` and `modified`. */
  time?: Record<string, string>
}

/** One version of a packument. Verdaccio serves only `dist.integrity` and `dist.tarball` of these. */
export interface PackumentVersion {
  dist?: {integrity?: string; tarball?: string; attestations?: {url?: string}}
  /** Who published it: a person's account, or `trustedPublisher` for an OIDC publish from CI. */
  _npmUser?: {name?: string; trustedPublisher?: {id?: string}}
}

/** The registry URL, always ending in `/`. */
export function normaliseRegistry(registry: string): string {
  return registry.endsWith('/') ? registry : `${registry}/`
}

/**
 * The npm setting that gives npm a token for this registry and no other: its "nerf-darted" form
 * (`//host/path/:_authToken`), passed through the child's environment (publishing.md §1).
 */
export function registryTokenVariable(registry: string): string {
  const url = new URL(normaliseRegistry(registry))
  return `npm_config_//${url.host}${url.pathname}:_authToken`
}

/** Reads a package's packument; undefined when the registry has never seen the package. */
export async function fetchPackument(registry: string, name: string): Promise<Packument | undefined> {
  // Scoped names keep their @ and escape the slash (`@scope%2fname`), as npm requests them.
  return fetchRegistryJson<Packument>(`${normaliseRegistry(registry)}${name.replace('/', '%2f')}`, registry)
}
