import {createRequire} from 'node:module'
import {join} from 'node:path'
import {type TrustMaterial, toTrustMaterial} from '@sigstore/verify'
import {TrustedRoot} from '@sigstore/protobuf-specs'
import {getTrustedRoot} from '@sigstore/tuf'

/** Sigstore's keys and certificate authorities, and where they came from. */
export interface SigstoreTrust {
  material: TrustMaterial
  /** `tuf`: refreshed from Sigstore's TUF repository now. `shipped`: the copy that came with secure. */
  source: 'tuf' | 'shipped'
}

/** The TUF repository @sigstore/tuf seeds itself with (its seeds.json is keyed by this URL). */
const SIGSTORE_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev'

/**
 * The trust root provenance is verified against: Fulcio's CAs, and the Rekor and CT log keys.
 * Fetched through Sigstore's TUF repository (as npm does), because keys rotate and logs are
 * sharded: a root only as new as this install would one day reject new provenance. When TUF cannot
 * be reached, the root shipped inside @sigstore/tuf, which verifies everything signed up to its
 * release; the report says which was used.
 */
export async function loadSigstoreTrust(cacheDirectory: string): Promise<SigstoreTrust> {
  try {
    const root = await getTrustedRoot({cachePath: join(cacheDirectory, 'sigstore-tuf'), mirrorURL: SIGSTORE_TUF_MIRROR, retry: false, timeout: 10_000})
    return {material: toTrustMaterial(root), source: 'tuf'}
  } catch {
    return shippedSigstoreTrust()
  }
}

/** The trust root shipped inside @sigstore/tuf: the `trusted_root.json` target of its seeds. */
export function shippedSigstoreTrust(): SigstoreTrust {
  const seeds = createRequire(import.meta.url)('@sigstore/tuf/seeds.json') as Record<string, {targets: Record<string, string>}>
  const encoded = seeds[SIGSTORE_TUF_MIRROR]!.targets['trusted_root.json']!
  return {material: toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')))), source: 'shipped'}
}
